// Package jsonrpc is the JSON-RPC 1.0 codec (RFC 7047 section 4) the client
// speaks to an OVSDB server through github.com/cenkalti/rpc2.
//
// It is adapted from github.com/cenkalti/rpc2/jsonrpc (MIT License,
// Copyright (c) 2014 Cenk Altı) in this fork so that nothing a server sends
// can crash the client:
//
//   - a response without an id is an error (rpc2's codec dereferenced nil);
//   - a message larger than MaxMessageSize is an error before it is all in
//     memory;
//   - a result or params whose decoding panics (a bug in some type's
//     UnmarshalJSON) is an error;
//   - an error object in a response (not only a string) is that call's error,
//     not the end of the connection;
//   - every write has a deadline (WriteTimeout), so a server that stops
//     reading cannot block the client forever.
//
// rpc2 ends the connection on any read error. OnProtocolError, when set,
// hears about the ones that are the server's fault (not EOF or the network).
package jsonrpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/cenkalti/rpc2"
)

const (
	// MaxMessageSize bounds one message from the server.
	MaxMessageSize = 64 << 20
	// WriteTimeout bounds one write to the server.
	WriteTimeout = 10 * time.Second
)

// ProtocolError is a message from the server that the codec refused.
type ProtocolError struct{ Err error }

func (e *ProtocolError) Error() string { return "jsonrpc: " + e.Err.Error() }
func (e *ProtocolError) Unwrap() error { return e.Err }

// PanicError is a panic the codec recovered from while decoding a message:
// a bug to fix where it happened (the fuzz tests fail on one).
type PanicError struct {
	What  string // what was being decoded
	Value interface{}
}

func (e *PanicError) Error() string { return fmt.Sprintf("malformed %s: %v", e.What, e.Value) }

// Codec is an rpc2.Codec for OVSDB's JSON-RPC.
type Codec struct {
	// OnProtocolError, if set, is called (from the read loop) with a
	// *ProtocolError that ends the connection.
	OnProtocolError func(error)

	conn    io.ReadWriteCloser
	in      *limitReader
	dec     *json.Decoder
	maxSize int64
	wait    time.Duration // write deadline
	wmu     sync.Mutex    // one write at a time

	msg message // the message ReadHeader read

	mutex   sync.Mutex // protects seq, pending
	pending map[uint64]*json.RawMessage
	seq     uint64
}

// NewCodec returns a codec on conn with the default limits.
func NewCodec(conn io.ReadWriteCloser) *Codec {
	in := &limitReader{r: conn}
	return &Codec{conn: conn, in: in, dec: json.NewDecoder(in), maxSize: MaxMessageSize, wait: WriteTimeout,
		pending: make(map[uint64]*json.RawMessage)}
}

// SetMaxMessageSize changes the bound on one message (before use).
func (c *Codec) SetMaxMessageSize(n int64) { c.maxSize = n }

// SetWriteTimeout changes the bound on one write (before use).
func (c *Codec) SetWriteTimeout(d time.Duration) { c.wait = d }

// message is a request (method set) or a response (id and result or error).
type message struct {
	Method string           `json:"method"`
	Params *json.RawMessage `json:"params"`
	Id     *json.RawMessage `json:"id"`
	Result *json.RawMessage `json:"result"`
	Error  interface{}      `json:"error"`
}

var errTooLarge = errors.New("message too large")

// MaxDepth bounds how deeply a message's JSON nests. OVSDB's deepest
// legitimate value is a few levels (an update's table, row, column,
// ["map", [[k, v]]]); decoding a set nested thousands deep cost time and
// memory quadratic in its depth (a 20 KB message, 490 MB).
const MaxDepth = 64

// nestedDeeper says whether b's arrays and objects nest deeper than max.
func nestedDeeper(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, ch := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '[' || ch == '{':
			depth++
			if depth > max {
				return true
			}
		case ch == ']' || ch == '}':
			depth--
		}
	}
	return false
}

// limitReader fails a read that would take the decoder more than limit
// bytes into the stream.
type limitReader struct {
	r        io.Reader
	n, limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n >= l.limit {
		return 0, errTooLarge
	}
	if room := l.limit - l.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

// refuse reports err as the server's fault and returns it.
func (c *Codec) refuse(err error) error {
	perr := &ProtocolError{Err: err}
	if c.OnProtocolError != nil {
		c.OnProtocolError(perr)
	}
	return perr
}

// ReadHeader reads the next message.
func (c *Codec) ReadHeader(req *rpc2.Request, resp *rpc2.Response) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.refuse(&PanicError{What: "message", Value: r})
		}
	}()
	c.msg = message{}
	c.in.limit = c.dec.InputOffset() + c.maxSize
	if err := c.dec.Decode(&c.msg); err != nil {
		if errors.Is(err, errTooLarge) {
			return c.refuse(fmt.Errorf("a message larger than %d bytes", c.maxSize))
		}
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syntax) || errors.As(err, &typ) {
			return c.refuse(fmt.Errorf("malformed message: %w", err))
		}
		return err // EOF, the network
	}
	for _, part := range []*json.RawMessage{c.msg.Params, c.msg.Result} {
		if part != nil && nestedDeeper(*part, MaxDepth) {
			return c.refuse(fmt.Errorf("a message nested deeper than %d levels", MaxDepth))
		}
	}
	if c.msg.Method != "" {
		// A request (or a notification, without an id) from the server.
		req.Method = c.msg.Method
		if c.msg.Id != nil {
			c.mutex.Lock()
			c.seq++
			c.pending[c.seq] = c.msg.Id
			req.Seq = c.seq
			c.mutex.Unlock()
		}
		return nil
	}
	if c.msg.Id == nil {
		return c.refuse(errors.New("a response without an id"))
	}
	var id uint64
	if err := json.Unmarshal(*c.msg.Id, &id); err != nil {
		return c.refuse(fmt.Errorf("response id %s: %w", *c.msg.Id, err))
	}
	resp.Seq = id
	resp.Error = ""
	if c.msg.Error != nil || c.msg.Result == nil {
		resp.Error = errorText(c.msg.Error)
	}
	return nil
}

// errorText is the text of a response's error: a string, or an OVSDB error
// object {"error": ..., "details": ...}.
func errorText(e interface{}) string {
	switch e := e.(type) {
	case nil:
		return "a response with neither result nor error"
	case string:
		if e == "" {
			return "unspecified error"
		}
		return e
	case map[string]interface{}:
		if s, ok := e["error"].(string); ok {
			if d, ok := e["details"].(string); ok && d != "" {
				return s + ": " + d
			}
			return s
		}
	}
	b, _ := json.Marshal(e)
	return string(b)
}

var errMissingParams = errors.New("a request without params")

// ReadRequestBody decodes the params of the request ReadHeader read.
func (c *Codec) ReadRequestBody(x interface{}) (err error) {
	if x == nil {
		return nil
	}
	if c.msg.Params == nil {
		return c.refuse(errMissingParams)
	}
	defer func() {
		if r := recover(); r != nil {
			err = c.refuse(&PanicError{What: c.msg.Method + " params", Value: r})
		}
	}()
	// A handler taking a slice gets the params array as is; any other
	// type is the single element of the params array.
	if rt := reflect.TypeOf(x); rt.Kind() == reflect.Ptr && rt.Elem().Kind() == reflect.Slice {
		err = json.Unmarshal(*c.msg.Params, x)
	} else {
		err = json.Unmarshal(*c.msg.Params, &[]interface{}{x})
	}
	if err != nil {
		return c.refuse(fmt.Errorf("%s: params: %w", c.msg.Method, err))
	}
	return nil
}

// ReadResponseBody decodes the result of the response ReadHeader read.
func (c *Codec) ReadResponseBody(x interface{}) (err error) {
	if x == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = c.refuse(&PanicError{What: "result", Value: r})
		}
	}()
	if err := json.Unmarshal(*c.msg.Result, x); err != nil {
		return c.refuse(fmt.Errorf("result: %w", err))
	}
	return nil
}

type clientRequest struct {
	Method string      `json:"method"`
	Params interface{} `json:"params"`
	Id     *uint64     `json:"id"`
}

type serverResponse struct {
	Id     *json.RawMessage `json:"id"`
	Result interface{}      `json:"result"`
	Error  interface{}      `json:"error"`
}

// WriteRequest sends a request (a notification when r.Seq is 0).
func (c *Codec) WriteRequest(r *rpc2.Request, param interface{}) error {
	req := &clientRequest{Method: r.Method}
	// A slice is the params array; anything else its single element.
	if param != nil && reflect.TypeOf(param).Kind() == reflect.Slice {
		req.Params = param
	} else {
		req.Params = []interface{}{param}
	}
	if r.Seq != 0 {
		seq := r.Seq
		req.Id = &seq
	}
	return c.write(req)
}

var null = json.RawMessage("null")

// WriteResponse answers a request of the server's.
func (c *Codec) WriteResponse(r *rpc2.Response, x interface{}) error {
	if r.Seq == 0 {
		return nil // a notification gets no response
	}
	c.mutex.Lock()
	id, ok := c.pending[r.Seq]
	delete(c.pending, r.Seq)
	c.mutex.Unlock()
	if !ok {
		return errors.New("jsonrpc: invalid sequence number in response")
	}
	if id == nil {
		id = &null
	}
	resp := serverResponse{Id: id}
	if r.Error == "" {
		resp.Result = x
	} else {
		resp.Error = r.Error
	}
	return c.write(resp)
}

func (c *Codec) write(v interface{}) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if conn, ok := c.conn.(net.Conn); ok {
		_ = conn.SetWriteDeadline(time.Now().Add(c.wait))
	}
	_, err = c.conn.Write(b)
	return err
}

// Close closes the connection.
func (c *Codec) Close() error { return c.conn.Close() }
