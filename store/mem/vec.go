package mem

import "slices"

// chunkLen is how many rows a vec copies when a transaction changes one.
const chunkLen = 64

// vec holds rows by id (1, 2, 3…: ids are handed out in order), in
// chunks, so that a transaction changing a row of a long table copies the
// list of chunks and that row's chunk, not the table. A published vec is
// never changed; a transaction's copy (see begin) owns the chunks it made.
type vec[T any] struct {
	chunks []*[chunkLen]T
	n      int64        // the last id
	owned  map[int]bool // chunks this transaction made; nil: none yet
}

// begin returns a transaction's copy of v, sharing every chunk.
func (v vec[T]) begin() vec[T] {
	v.owned = nil
	return v
}

// get returns row id.
func (v *vec[T]) get(id int64) (T, bool) {
	if id < 1 || id > v.n {
		var zero T
		return zero, false
	}
	return v.chunks[(id-1)/chunkLen][(id-1)%chunkLen], true
}

// add appends r and returns its id.
func (v *vec[T]) add(r T) int64 {
	v.n++
	v.set(v.n, r)
	return v.n
}

// set replaces row id, which add made.
func (v *vec[T]) set(id int64, r T) {
	if v.owned == nil {
		v.owned = map[int]bool{}
		v.chunks = slices.Clone(v.chunks)
	}
	c := int((id - 1) / chunkLen)
	for c >= len(v.chunks) {
		v.chunks = append(v.chunks, new([chunkLen]T))
		v.owned[len(v.chunks)-1] = true
	}
	if !v.owned[c] {
		cp := *v.chunks[c]
		v.chunks[c] = &cp
		v.owned[c] = true
	}
	v.chunks[c][(id-1)%chunkLen] = r
}

// all calls yield with each row in id order until it returns false.
func (v *vec[T]) all(yield func(id int64, r T) bool) {
	for id := int64(1); id <= v.n; id++ {
		if !yield(id, v.chunks[(id-1)/chunkLen][(id-1)%chunkLen]) {
			return
		}
	}
}
