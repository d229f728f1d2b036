// Package openflow is Loom's OpenFlow 1.3 wire layer: framing, version
// negotiation, xid bookkeeping, request/reply matching and message codecs.
//
// It is, with package ovsdb, the only importer of github.com/contiv/libOpenflow.
// The library supplies message layouts and constants; this package owns the
// byte stream. Every length the peer declares is checked here before any
// library decoder sees the bytes, because several of those decoders loop
// forever or index out of range on short or zero-length TLVs, and any panic
// that still escapes a decoder is recovered into an error on that one
// connection.
//
// Callers above this package see neutral Go values (PacketIn, Port, OXM, ...)
// and never a libOpenflow type, so the library can be replaced without
// touching the controller.
package openflow
