package ofpcap

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
)

// CaptureName is the file name of the OVS capture committed with this
// package (testdata/, gzipped; testdata/README.md says what it holds).
const CaptureName = "ovs-3.1-of13.pcap.gz"

// CapturePath returns the path of the committed capture, next to this
// source file, whatever the working directory.
func CapturePath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", CaptureName)
}

// CorpusFileName returns the name WriteCorpus gives to the file holding
// input: the hex form of the first 8 bytes of the input's SHA-256.
func CorpusFileName(input []byte) string {
	sum := sha256.Sum256(input)
	return hex.EncodeToString(sum[:8])
}

// WriteCorpus writes inputs as Go fuzzing corpus files for a fuzz target
// taking one []byte ("go test fuzz v1\n[]byte(%q)\n"), one file per input
// named by [CorpusFileName], into dir, creating it. Duplicate inputs yield
// one file; existing files are overwritten.
func WriteCorpus(dir string, inputs [][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: the corpus is committed source (testdata/fuzz), readable like the rest of the tree
		return err
	}
	for _, in := range inputs {
		data := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", in)
		if err := os.WriteFile(filepath.Join(dir, CorpusFileName(in)), data, 0o644); err != nil { //nolint:gosec // G306: as above
			return err
		}
	}
	return nil
}

// Kind identifies the sort of an OpenFlow message for [Distinct]: version,
// type, and the multipart type of multipart requests/replies (types 18/19)
// or the experimenter id and type of experimenter messages (type 4).
// Sub-fields absent from the message, or not applicable, are -1.
type Kind struct {
	Version, Type    int
	MultipartType    int
	Experimenter     int64
	ExperimenterType int64
}

// KindOf returns the kind of an OpenFlow message (header included).
func KindOf(b []byte) Kind {
	k := Kind{Version: -1, Type: -1, MultipartType: -1, Experimenter: -1, ExperimenterType: -1}
	if len(b) >= 2 {
		k.Version, k.Type = int(b[0]), int(b[1])
	}
	switch k.Type {
	case 18, 19: // OFPT_MULTIPART_REQUEST / _REPLY (OpenFlow 1.3+)
		if len(b) >= 10 {
			k.MultipartType = int(binary.BigEndian.Uint16(b[8:10]))
		}
	case 4: // OFPT_EXPERIMENTER
		if len(b) >= 12 {
			k.Experimenter = int64(binary.BigEndian.Uint32(b[8:12]))
		}
		if len(b) >= 16 {
			k.ExperimenterType = int64(binary.BigEndian.Uint32(b[12:16]))
		}
	}
	return k
}

// Distinct picks a small representative subset of msgs for a seed corpus:
// at most perKind messages of each [Kind], alternately the shortest and the
// longest not yet taken (among equal lengths, the earliest is taken as
// shortest and the latest as longest), skipping messages
// longer than maxLen (no limit if maxLen <= 0) and byte-identical
// duplicates. The result is in capture order.
func Distinct(msgs []Message, perKind int, maxLen int) []Message {
	if perKind <= 0 {
		return nil
	}
	byKind := make(map[Kind][]int)
	var kinds []Kind
	for i := range msgs {
		if maxLen > 0 && len(msgs[i].Bytes) > maxLen {
			continue
		}
		k := KindOf(msgs[i].Bytes)
		if _, ok := byKind[k]; !ok {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], i)
	}
	var picked []int
	for _, k := range kinds {
		idx := byKind[k]
		sort.SliceStable(idx, func(a, b int) bool { return len(msgs[idx[a]].Bytes) < len(msgs[idx[b]].Bytes) })
		var chosen []int
		lo, hi, takeShort := 0, len(idx)-1, true
		for lo <= hi && len(chosen) < perKind {
			var i int
			if takeShort {
				i, lo = idx[lo], lo+1
			} else {
				i, hi = idx[hi], hi-1
			}
			if !slices.ContainsFunc(chosen, func(j int) bool { return bytes.Equal(msgs[i].Bytes, msgs[j].Bytes) }) {
				chosen = append(chosen, i)
				takeShort = !takeShort
			}
		}
		picked = append(picked, chosen...)
	}
	sort.Ints(picked)
	out := make([]Message, len(picked))
	for n, i := range picked {
		out[n] = msgs[i]
	}
	return out
}
