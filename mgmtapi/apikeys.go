package mgmtapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

// Paging of GET /api/v2/api-keys.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
	// streamPage is how many keys an NDJSON list reads from the store and
	// writes before it flushes.
	streamPage = 100
)

// ndjson is the media type of a list with one ApiKey a line.
const ndjson = "application/x-ndjson"

// createBody is the body of POST /api/v2/api-keys.
type createBody struct {
	Name        string              `json:"name"`
	ValidUntil  *string             `json:"validUntil"`
	Scopes      []string            `json:"scopes"`
	WriteAccess bool                `json:"writeAccess"`
	RateLimit   *keys.RateLimitJSON `json:"rateLimit"`
	AllowedIPs  []string            `json:"allowedIps"`
	// ReadOnlyGrace is a duration like "24h"; null or absent for none.
	ReadOnlyGrace *string `json:"readOnlyGrace"`
}

// rollBody is the body of POST /api/v2/api-keys/{id}/roll (optional).
type rollBody struct {
	// Overlap is a duration from "0s" (the default) to "720h".
	Overlap *string `json:"overlap"`
}

// updateBody is the body of PATCH /api/v2/api-keys/{id}: a present member
// replaces the key's, null clears it.
type updateBody struct {
	Name          *string             `json:"name"`
	Scopes        []string            `json:"scopes"`
	RateLimit     *keys.RateLimitJSON `json:"rateLimit"`
	AllowedIPs    []string            `json:"allowedIps"`
	ReadOnlyGrace *string             `json:"readOnlyGrace"`
}

// renewBody is the body of POST /api/v2/api-keys/{id}/renew.
type renewBody struct {
	ValidUntil *string             `json:"validUntil"`
	RateLimit  *keys.RateLimitJSON `json:"rateLimit"`
}

// createdKey is the answer to a create: the ApiKey and, this once, the
// plain key.
type createdKey struct {
	keys.View
	Key string `json:"key"`
}

// revealedKey is the answer to a reveal.
type revealedKey struct {
	Key string `json:"key"`
}

// detailsJSON is the answer to GET /api/v2/api-keys/{id}/details.
type detailsJSON struct {
	Audit    []auditJSON `json:"audit"`
	Usage    []usageJSON `json:"usage"`
	Requests int64       `json:"requests"`
}

type auditJSON struct {
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
}

type usageJSON struct {
	Hour  time.Time `json:"hour"`
	Count int64     `json:"count"`
}

// list answers GET /api/v2/api-keys: a page of keys as a JSON array, or
// as NDJSON streamed page by page.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, c *call) error {
	offset, size, err := pageParams(r.URL.RawQuery)
	if err != nil {
		return err
	}
	w.Header().Add("Vary", "Accept")
	if wantsNDJSON(r.Header.Values("Accept")) {
		return h.stream(w, r, c, offset, size)
	}
	ks, total, err := h.Keys.List(r.Context(), offset, size)
	if err != nil {
		return err
	}
	views := make([]keys.View, 0, len(ks))
	for _, k := range ks {
		views = append(views, keys.NewView(k, c.now))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	return writeJSON(w, http.StatusOK, views)
}

// stream writes up to size keys from offset, one JSON object a line,
// flushing after each page read from the store.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, c *call, offset, size int) error {
	ctx := r.Context()
	want := min(size, streamPage)
	page, total, err := h.Keys.List(ctx, offset, want)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ndjson)
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	sent := 0
	for {
		for _, k := range page {
			if err := enc.Encode(keys.NewView(k, c.now)); err != nil {
				return nil // the client went away
			}
		}
		sent += len(page)
		rc.Flush()
		if len(page) < want || sent >= size || ctx.Err() != nil {
			return nil
		}
		want = min(size-sent, streamPage)
		page, _, err = h.Keys.List(ctx, offset+sent, want)
		if err != nil {
			// The status is sent: cut the response short so that the
			// client sees it incomplete rather than a shorter list.
			h.logger().WarnContext(ctx, "management api: list keys while streaming", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// pageParams parses ?offset=0&size=100.
func pageParams(rawQuery string) (offset, size int, err error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, 0, gatehouse.Errorf(gatehouse.EInvalidRequest, "The query string is malformed.")
	}
	offset, size = 0, defaultPageSize
	parse := func(name string, lo, hi int, dst *int) error {
		vs, ok := q[name]
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
		if len(vs) != 1 || err != nil || n < lo || n > hi {
			return gatehouse.Errorf(gatehouse.EInvalidRequest, "%s must be one whole number from %d to %d.", name, lo, hi)
		}
		*dst = n
		return nil
	}
	if err := parse("offset", 0, 1<<31-1, &offset); err != nil {
		return 0, 0, err
	}
	if err := parse("size", 1, maxPageSize, &size); err != nil {
		return 0, 0, err
	}
	return offset, size, nil
}

// wantsNDJSON reports whether the Accept headers ask for NDJSON.
func wantsNDJSON(accept []string) bool {
	for _, a := range accept {
		for part := range strings.SplitSeq(a, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != ndjson {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// create answers POST /api/v2/api-keys.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, c *call) error {
	var b createBody
	if _, err := h.decodeBody(w, r, &b, false); err != nil {
		return err
	}
	req := keys.CreateRequest{Name: b.Name, Scopes: b.Scopes, WriteAccess: b.WriteAccess}
	var err error
	if req.ValidUntil, err = parseValidUntil(b.ValidUntil); err != nil {
		return err
	}
	if b.RateLimit != nil {
		rl, err := keys.ParseRateLimitJSON(*b.RateLimit)
		if err != nil {
			return err
		}
		req.RateLimit = &rl
	}
	req.AllowedIPs = b.AllowedIPs
	if b.ReadOnlyGrace != nil {
		if req.ReadOnlyGrace, err = parseDuration("readOnlyGrace", *b.ReadOnlyGrace); err != nil {
			return err
		}
	}
	k, secret, err := h.Keys.Create(r.Context(), req, c.caller)
	if err != nil {
		return err
	}
	w.Header().Set("Location", keyPath(k.ID))
	return writeJSON(w, http.StatusCreated, createdKey{View: keys.NewView(k, c.now), Key: secret.Reveal()})
}

// get answers GET /api/v2/api-keys/{id}.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, c *call) error {
	k, err := h.Keys.Get(r.Context(), c.id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keys.NewView(k, c.now))
}

// delete answers DELETE /api/v2/api-keys/{id}.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := h.decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	if err := h.Keys.Delete(r.Context(), c.id, c.caller); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reveal answers POST /api/v2/api-keys/{id}/reveal: the plain key, for
// "Copy key". The service audits it.
func (h *Handler) reveal(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := h.decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	secret, err := h.Keys.Reveal(r.Context(), c.id, c.caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, revealedKey{Key: secret.Reveal()})
}

// renew answers POST /api/v2/api-keys/{id}/renew. validUntil must be
// present (null for no expiry); rateLimit, when present, replaces the
// key's limit (null removes it).
func (h *Handler) renew(w http.ResponseWriter, r *http.Request, c *call) error {
	var b renewBody
	present, err := h.decodeBody(w, r, &b, false)
	if err != nil {
		return err
	}
	if !present["validUntil"] {
		return gatehouse.Errorf(gatehouse.EInvalidRequest, "validUntil is required: an RFC 3339 time, or null for no expiry.")
	}
	until, err := parseValidUntil(b.ValidUntil)
	if err != nil {
		return err
	}
	var rl *gatehouse.RateLimit
	switch {
	case b.RateLimit != nil:
		parsed, err := keys.ParseRateLimitJSON(*b.RateLimit)
		if err != nil {
			return err
		}
		rl = &parsed
	case present["rateLimit"]:
		rl = &gatehouse.RateLimit{} // null: back to the configured default
	}
	k, err := h.Keys.Renew(r.Context(), c.id, until, rl, c.caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keys.NewView(k, c.now))
}

// roll answers POST /api/v2/api-keys/{id}/roll: the key with its new
// secret, shown this once. The body is optional; overlap defaults to 0s.
func (h *Handler) roll(w http.ResponseWriter, r *http.Request, c *call) error {
	var b rollBody
	if _, err := h.decodeBody(w, r, &b, true); err != nil {
		return err
	}
	var overlap time.Duration
	if b.Overlap != nil {
		var err error
		if overlap, err = parseDuration("overlap", *b.Overlap); err != nil {
			return err
		}
	}
	k, secret, err := h.Keys.Roll(r.Context(), c.id, overlap, c.caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, createdKey{View: keys.NewView(k, c.now), Key: secret.Reveal()})
}

// disable answers POST /api/v2/api-keys/{id}/disable.
func (h *Handler) disable(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.setDisabled(w, r, c, true)
}

// enable answers POST /api/v2/api-keys/{id}/enable.
func (h *Handler) enable(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.setDisabled(w, r, c, false)
}

func (h *Handler) setDisabled(w http.ResponseWriter, r *http.Request, c *call, disabled bool) error {
	if _, err := h.decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	k, err := h.Keys.SetDisabled(r.Context(), c.id, disabled, c.caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keys.NewView(k, c.now))
}

// update answers PATCH /api/v2/api-keys/{id}: each member present
// replaces the key's (null clears it: default scopes, the configured
// rate limit, any address, no grace; a null name is refused).
func (h *Handler) update(w http.ResponseWriter, r *http.Request, c *call) error {
	var b updateBody
	present, err := h.decodeBody(w, r, &b, false)
	if err != nil {
		return err
	}
	var req keys.UpdateRequest
	if present["name"] {
		if b.Name == nil {
			return gatehouse.Errorf(gatehouse.EInvalidRequest, "name cannot be null: a key always has a name.")
		}
		req.Name = b.Name
	}
	if present["scopes"] {
		req.Scopes = &b.Scopes
	}
	switch {
	case b.RateLimit != nil:
		rl, err := keys.ParseRateLimitJSON(*b.RateLimit)
		if err != nil {
			return err
		}
		req.RateLimit = &rl
	case present["rateLimit"]:
		req.RateLimit = &gatehouse.RateLimit{}
	}
	if present["allowedIps"] {
		req.AllowedIPs = &b.AllowedIPs
	}
	if present["readOnlyGrace"] {
		var grace time.Duration
		if b.ReadOnlyGrace != nil {
			if grace, err = parseDuration("readOnlyGrace", *b.ReadOnlyGrace); err != nil {
				return err
			}
		}
		req.ReadOnlyGrace = &grace
	}
	k, err := h.Keys.Update(r.Context(), c.id, req, c.caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keys.NewView(k, c.now))
}

// parseDuration parses a Go duration ("24h", "90m") of the member name;
// its range is the service's check.
func parseDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, gatehouse.Errorf(gatehouse.EInvalidRequest, "%s %q is not a duration like \"24h\".", name, truncate(s))
	}
	return d, nil
}

// details answers GET /api/v2/api-keys/{id}/details: the key's audit log
// and its usage over the last 7 days, for "More information".
func (h *Handler) details(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if _, err := h.Keys.Get(ctx, c.id); err != nil {
		return err
	}
	d, err := h.Keys.Details(ctx, c.id)
	if err != nil {
		return err
	}
	out := detailsJSON{
		Audit:    make([]auditJSON, 0, len(d.Audit)),
		Usage:    make([]usageJSON, 0, len(d.Usage)),
		Requests: d.Requests,
	}
	for _, e := range d.Audit {
		out.Audit = append(out.Audit, auditJSON{Action: e.Action, Actor: e.Actor, At: e.At})
	}
	for _, u := range d.Usage {
		out.Usage = append(out.Usage, usageJSON{Hour: u.Hour, Count: u.Count})
	}
	return writeJSON(w, http.StatusOK, out)
}

// parseValidUntil parses an RFC 3339 time; nil stays nil (no expiry).
// Whether the time is in the past is the service's check.
func parseValidUntil(s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "validUntil %q is not an RFC 3339 time like 2027-01-31T00:00:00Z.", truncate(*s))
	}
	return &t, nil
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
	return nil
}
