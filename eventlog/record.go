package eventlog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
)

// A record is one tidwall/wal entry. Layout (version 1, big-endian):
//
//	off  size
//	0    1    version (1)
//	1    2    kind
//	3    32   prev: hash of the previous record (zero for the first record ever)
//	35   4    payload length n
//	39   n    payload (see codec.go)
//	39+n 4    CRC32C (Castagnoli) of bytes [0, 39+n)
//
// The hash of a record is SHA-256 of all its bytes, CRC included. Since the
// record holds prev, that is H(prev || rest): changing or removing any record
// changes every later hash (I8).
//
// The frame is the same in every format version, this one and any later
// one: byte 0 is the version (never 0), bytes 35..38 the length n of what
// follows the 39-byte header, and the record ends with the CRC32C of every
// byte before it. A later version may change what bytes 1..34 and the n
// bytes mean, and may allow records larger than MaxRecordSize, but not the
// frame. That is what lets a reader tell a record it cannot decode from
// damage: a version byte alone proves nothing (a torn or garbage tail starts
// with any byte), so a record of another version is reported as
// *VersionError only when its frame holds — it is a whole tidwall/wal entry,
// its length field matches the entry's length exactly and its CRC verifies.
// Random bytes pass both checks with a probability of about 2^-64. Anything
// else with a foreign version byte is damage (see docs/ARCHITECTURE.md, "The
// WAL (eventlog)").
const (
	// RecordVersion is the record format this build writes and reads.
	RecordVersion = 1
	// MaxRecordSize bounds a whole record; larger ones are refused on write
	// and treated as damage on read.
	MaxRecordSize = 1 << 20

	recordHeaderSize  = 39
	recordTrailerSize = 4
	recordOverhead    = recordHeaderSize + recordTrailerSize
	maxPayloadSize    = MaxRecordSize - recordOverhead
	offKind           = 1
	offPrev           = 3
	offLen            = 35
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Hash is a SHA-256 chain hash.
type Hash [32]byte

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, for status tables.
func (h Hash) Short() string { return hex.EncodeToString(h[:6]) }

// IsZero reports whether h is the zero hash (no previous record).
func (h Hash) IsZero() bool { return h == Hash{} }

// HashRecord returns the chain hash of an encoded record.
func HashRecord(rec []byte) Hash { return sha256.Sum256(rec) }

// Errors of record decoding. Decoding never panics; every failure is one of
// these (possibly wrapped) or a *VersionError / *UnknownKindError.
var (
	ErrTooLarge  = errors.New("record too large")
	ErrTruncated = errors.New("record truncated")
	ErrChecksum  = errors.New("record checksum mismatch")
)

// VersionError is returned for a well-formed record (whole frame, matching
// length field, valid CRC) whose format version this build does not know:
// one written by a newer SyncNet. A record with a foreign version byte whose
// frame does not hold is damage (ErrTruncated, ErrMalformed or ErrChecksum),
// never a VersionError.
type VersionError struct {
	Version uint8
	Kind    Kind // as read from bytes 1..2; that version may give them another meaning
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("eventlog: record format version %d (kind %d) is not supported by this build (it reads version %d); was it written by a newer syncnet?",
		e.Version, uint16(e.Kind), RecordVersion)
}

// UnknownKindError is returned for a well-formed, checksummed record whose
// kind this build does not know: written by a newer SyncNet or a plugin that
// is not compiled in.
type UnknownKindError struct {
	Kind    Kind
	Version uint8
}

func (e *UnknownKindError) Error() string {
	return fmt.Sprintf("eventlog: unknown event kind %d in record version %d; was it written by a newer syncnet or a missing plugin?",
		uint16(e.Kind), e.Version)
}

// Record is a decoded record.
type Record struct {
	Version uint8
	Prev    Hash // hash of the previous record
	Event   Event
}

// AppendRecord appends the record for ev, chained to prev, to dst.
func AppendRecord(dst []byte, prev Hash, ev Event) ([]byte, error) {
	if ev.Body == nil {
		return dst, errors.New("eventlog: event has no body")
	}
	k := ev.Body.Kind()
	if !k.Known() {
		return dst, &UnknownKindError{Kind: k, Version: RecordVersion}
	}
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderSize)...)
	dst = appendPayload(dst, &ev)
	n := len(dst) - start - recordHeaderSize
	if n > maxPayloadSize {
		return dst[:start], fmt.Errorf("eventlog: %s event: %w (%d bytes, max %d)", k, ErrTooLarge, n+recordOverhead, MaxRecordSize)
	}
	return sealRecord(dst, start, k, prev), nil
}

// sealRecord fills in the header of the record at dst[start:] (whose payload
// is already in place) and appends the CRC.
func sealRecord(dst []byte, start int, k Kind, prev Hash) []byte {
	r := dst[start:]
	r[0] = RecordVersion
	binary.BigEndian.PutUint16(r[offKind:], uint16(k))
	copy(r[offPrev:], prev[:])
	binary.BigEndian.PutUint32(r[offLen:], uint32(len(r)-recordHeaderSize))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(r, castagnoli))
}

// checkFrameChained is checkFrame without the CRC, for a record of this
// version whose bytes the next record's prev hash has proven
// (provenByNext).
func checkFrameChained(rec []byte) (k Kind, prev Hash, err error) {
	if len(rec) < recordOverhead || len(rec) > MaxRecordSize || rec[0] != RecordVersion ||
		int(binary.BigEndian.Uint32(rec[offLen:])) != len(rec)-recordOverhead {
		k, prev, _, err = checkFrame(rec) // whatever is wrong, in checkFrame's words
		return k, prev, err
	}
	copy(prev[:], rec[offPrev:])
	return Kind(binary.BigEndian.Uint16(rec[offKind:])), prev, nil
}

// checkFrame validates the framing and checksum of rec without decoding the
// payload or looking up the kind. A record of another format version gets a
// *VersionError only if its frame is sound (see the frame rules above);
// otherwise the error says what is wrong with it, like any damage.
func checkFrame(rec []byte) (k Kind, prev Hash, payload []byte, err error) {
	if len(rec) == 0 {
		return 0, prev, nil, fmt.Errorf("%w: empty", ErrTruncated)
	}
	v := rec[0]
	if v == 0 {
		return 0, prev, nil, fmt.Errorf("%w: version byte 0 (zero-filled?)", ErrMalformed)
	}
	if v == RecordVersion && len(rec) > MaxRecordSize {
		return 0, prev, nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(rec))
	}
	if len(rec) < recordOverhead {
		return 0, prev, nil, fmt.Errorf("%w: %d bytes, header needs %d%s", ErrTruncated, len(rec), recordOverhead, foreignVersion(v))
	}
	n := int(binary.BigEndian.Uint32(rec[offLen:]))
	if n != len(rec)-recordOverhead {
		return 0, prev, nil, fmt.Errorf("%w: payload length %d does not fit record of %d bytes%s", ErrMalformed, n, len(rec), foreignVersion(v))
	}
	body := rec[:len(rec)-recordTrailerSize]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(rec[len(body):]) {
		if v != RecordVersion {
			return 0, prev, nil, fmt.Errorf("%w%s", ErrChecksum, foreignVersion(v))
		}
		return 0, prev, nil, ErrChecksum
	}
	k = Kind(binary.BigEndian.Uint16(rec[offKind:]))
	if v != RecordVersion {
		return k, prev, nil, &VersionError{Version: v, Kind: k}
	}
	copy(prev[:], rec[offPrev:])
	return k, prev, rec[recordHeaderSize:len(body)], nil
}

// foreignVersion notes, in a damage message, a version byte this build does
// not write, so nobody mistakes the damage for a record of a newer format.
func foreignVersion(v uint8) string {
	if v == RecordVersion {
		return ""
	}
	return fmt.Sprintf(" (version byte %d, but not a well-formed record: damage, not a newer format)", v)
}

// wellFormed reports whether rec is a whole record of any format version:
// checksummed, with a matching length field. Its kind may be unknown.
func wellFormed(rec []byte) bool {
	_, _, _, err := checkFrame(rec)
	var ve *VersionError
	return err == nil || errors.As(err, &ve)
}

// DecodeRecord checks and decodes one record. It never panics.
func DecodeRecord(rec []byte) (Record, error) {
	d := decoderPool.Get().(*decoder)
	r, err := d.decodeRecord(rec)
	decoderPool.Put(d)
	return r, err
}

func (d *decoder) decodeRecord(rec []byte) (Record, error) {
	k, prev, payload, err := checkFrame(rec)
	if err != nil {
		return Record{}, err
	}
	if !k.Known() {
		return Record{}, &UnknownKindError{Kind: k, Version: rec[0]}
	}
	ev, err := d.decodePayload(k, payload)
	if err != nil {
		return Record{}, fmt.Errorf("%s record: %w", k, err)
	}
	return Record{Version: rec[0], Prev: prev, Event: ev}, nil
}
