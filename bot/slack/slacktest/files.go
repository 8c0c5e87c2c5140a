package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// File is an upload the fake received through Slack's upload flow:
// files.getUploadURLExternal, a POST of the bytes to the upload URL, and
// files.completeUploadExternal, which shares it.
type File struct {
	ID      string
	Name    string // filename given to files.getUploadURLExternal
	AltText string
	Length  int    // the length announced
	Data    []byte // the bytes posted to the upload URL
	// Set by files.completeUploadExternal.
	Title          string
	Channel        string
	ThreadTS       string
	InitialComment string
	Blocks         string
	Completed      bool
}

// Files returns the uploads that were completed, in order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for _, id := range s.fileOrder {
		if f := s.files[id]; f.Completed {
			out = append(out, *f)
		}
	}
	return out
}

// getUploadURL answers files.getUploadURLExternal: an upload URL on the
// fake itself, so the client sends the bytes to loopback.
func (s *Server) getUploadURL(c *Call) map[string]any {
	name := c.Get("filename")
	n, err := strconv.Atoi(c.Get("length"))
	if name == "" || err != nil || n <= 0 {
		return errBody("invalid_arguments")
	}
	if utf8.RuneCountInString(c.Get("alt_txt")) > 1000 {
		return errBody("alt_txt_too_large")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fileSeq++
	id := fmt.Sprintf("F%08d", s.fileSeq)
	if s.files == nil {
		s.files = map[string]*File{}
	}
	s.files[id] = &File{ID: id, Name: name, AltText: c.Get("alt_txt"), Length: n}
	s.fileOrder = append(s.fileOrder, id)
	return map[string]any{"ok": true, "upload_url": s.srv.URL + "/upload/v1/" + id, "file_id": id}
}

// serveUpload takes the bytes posted to an upload URL, multipart or raw,
// and answers as Slack's upload service does: 200 "OK - <length>".
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/v1/")
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var data []byte
	var err error
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		if err = r.ParseMultipartForm(32 << 20); err == nil {
			f, _, ferr := r.FormFile("file")
			if ferr != nil {
				err = ferr
			} else {
				data, err = io.ReadAll(f)
				f.Close()
			}
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, 32<<20))
	}
	if err != nil {
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	f := s.files[id]
	if f != nil && !f.Completed {
		f.Data = data
	}
	s.mu.Unlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "OK - %d", len(data))
}

// completeUpload answers files.completeUploadExternal: it shares each
// uploaded file in channel_id, once.
func (s *Server) completeUpload(c *Call) map[string]any {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(c.Get("files")), &files); err != nil || len(files) == 0 {
		return errBody("invalid_arguments")
	}
	ch := c.Get("channel_id")
	if ch != "" && s.refused(ch) {
		return errBody("channel_not_found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, x := range files {
		f := s.files[x.ID]
		if f == nil || f.Completed || f.Data == nil {
			return errBody("file_not_found")
		}
	}
	for _, x := range files {
		f := s.files[x.ID]
		f.Title, f.Channel, f.ThreadTS = x.Title, ch, c.Get("thread_ts")
		f.InitialComment, f.Blocks = c.Get("initial_comment"), c.Get("blocks")
		f.Completed = true
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	return map[string]any{"ok": true, "files": out}
}
