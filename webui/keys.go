package webui

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

// listLimit is how many keys the page lists.
const listLimit = 1000

// Access levels offered per route scope in the create form.
const (
	levelNone  = "none"
	levelRead  = "read"
	levelWrite = "write"
)

type keyRow struct {
	ID, Name, Scopes string
	ValidUntil       *time.Time
	Expired          bool
	// ExpiresInDays is set when the key expires within 7 days.
	ExpiresInDays int
	ExpiresSoon   bool
	Disabled      bool
}

type scopeChoice struct {
	Name, Label, Level string
}

type keysData struct {
	Title     string
	Session   *session
	Rows      []keyRow
	Total     int
	Shown     int
	Flash     string
	Error     string
	FormOpen  bool
	FormError string
	FormName  string
	FormDate  string
	Choices   []scopeChoice
	// Tomorrow is the earliest expiration date the date pickers offer: a
	// date means its midnight (UTC), so today is already past.
	Tomorrow   string
	NewKey     string
	NewKeyName string
}

func (u *UI) listData(r *http.Request) (*keysData, error) {
	list, total, err := u.Keys.List(r.Context(), 0, listLimit)
	if err != nil {
		return nil, err
	}
	now := u.now()
	d := &keysData{Title: "API Keys", Session: sessionOf(r), Total: total, Shown: len(list), Tomorrow: now.UTC().AddDate(0, 0, 1).Format(time.DateOnly)}
	for _, k := range list {
		row := keyRow{ID: k.ID, Name: k.Name, ValidUntil: k.ValidUntil, Expired: k.Expired(now), Scopes: strings.Join(k.Scopes.Strings(), ", "), Disabled: k.Disabled}
		if k.ExpiresWithin(now, u.expiryWarning()) {
			row.ExpiresSoon = true
			row.ExpiresInDays = int(k.ValidUntil.Sub(now).Hours()/24 + 0.999)
		}
		d.Rows = append(d.Rows, row)
	}
	d.Choices = u.choices(nil)
	switch r.URL.Query().Get("msg") {
	case "deleted":
		d.Flash = "The key was deleted. Requests with it are refused from now on."
	case "renewed":
		d.Flash = "The key was renewed. It works again at once."
	}
	return d, nil
}

func (u *UI) choices(levels map[string]string) []scopeChoice {
	var names []string
	if u.Scopes != nil {
		names = append(names, u.Scopes()...)
	}
	sort.Strings(names)
	if len(names) == 0 {
		names = []string{gatehouse.ScopeAll}
	}
	out := make([]scopeChoice, 0, len(names))
	for _, n := range names {
		label := n
		if n == gatehouse.ScopeAll {
			label = "All routes"
		}
		level := levelRead
		if l, ok := levels[n]; ok {
			level = l
		}
		out = append(out, scopeChoice{Name: n, Label: label, Level: level})
	}
	return out
}

func (u *UI) listPage(w http.ResponseWriter, r *http.Request) {
	d, err := u.listData(r)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, http.StatusOK, "keys", d)
}

// create makes a key from the form, and shows it once.
func (u *UI) create(w http.ResponseWriter, r *http.Request) {
	levels := map[string]string{}
	for _, c := range u.choices(nil) {
		switch l := r.PostFormValue("scope:" + c.Name); l {
		case levelNone, levelRead, levelWrite:
			levels[c.Name] = l
		default:
			levels[c.Name] = levelRead
		}
	}
	req := keys.CreateRequest{Name: r.PostFormValue("name"), Scopes: scopesFor(levels)}
	dateText := strings.TrimSpace(r.PostFormValue("validUntil"))
	var formErr error
	if dateText != "" {
		t, err := time.Parse(time.DateOnly, dateText)
		if err != nil {
			formErr = gatehouse.Errorf(gatehouse.EInvalidRequest, "The expiration date must be a date like 2027-01-31.")
		} else if !t.After(u.now()) {
			formErr = gatehouse.Errorf(gatehouse.EInvalidRequest, "The expiration date must be in the future.")
		}
		req.ValidUntil = &t
	}
	if formErr == nil && len(req.Scopes) == 0 {
		formErr = gatehouse.Errorf(gatehouse.EInvalidRequest, "Give the key access to at least one route.")
	}
	var (
		k      *gatehouse.APIKey
		secret gatehouse.Secret
	)
	if formErr == nil {
		k, secret, formErr = u.Keys.Create(r.Context(), req, adminOf(r))
	}
	d, err := u.listData(r)
	if err != nil {
		u.fail(w, err)
		return
	}
	if formErr != nil {
		switch code := gatehouse.ErrorCode(formErr); code {
		case gatehouse.EInvalidRequest, gatehouse.ENameTaken, gatehouse.EUnknownScope:
			d.FormOpen, d.FormError, d.FormName, d.FormDate = true, gatehouse.ErrorMessage(formErr), req.Name, dateText
			d.Choices = u.choices(levels)
			status := http.StatusBadRequest
			if code == gatehouse.ENameTaken {
				status = http.StatusConflict
			}
			u.render(w, status, "keys", d)
		default:
			u.fail(w, formErr)
		}
		return
	}
	d.NewKey, d.NewKeyName = secret.Reveal(), k.Name
	u.render(w, http.StatusCreated, "keys", d)
}

// scopesFor turns the form's levels into scopes: the same level on every
// route becomes "*:<level>", so that routes added later are included.
func scopesFor(levels map[string]string) []string {
	same := ""
	for _, l := range levels {
		if same == "" {
			same = l
		} else if same != l {
			same = "mixed"
		}
	}
	if same == levelRead || same == levelWrite {
		return []string{gatehouse.ScopeAll + ":" + same}
	}
	var out []string
	for n, l := range levels {
		if l != levelNone {
			out = append(out, n+":"+l)
		}
	}
	sort.Strings(out)
	return out
}

func (u *UI) delete(w http.ResponseWriter, r *http.Request) {
	if err := u.Keys.Delete(r.Context(), r.PathValue("id"), adminOf(r)); err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, "/settings/api-keys?msg=deleted", http.StatusSeeOther)
}

// renew sets a key's new expiration date, or none when "No expiration" is
// ticked. An empty date without that box is refused rather than read as
// "never", so that a slip cannot make a key eternal.
func (u *UI) renew(w http.ResponseWriter, r *http.Request) {
	var until *time.Time
	if r.PostFormValue("noExpiry") == "" {
		text := strings.TrimSpace(r.PostFormValue("validUntil"))
		t, err := time.Parse(time.DateOnly, text)
		switch {
		case text == "":
			u.listError(w, r, http.StatusBadRequest, "Pick a new expiration date, or tick “No expiration”.")
			return
		case err != nil || !t.After(u.now()):
			u.listError(w, r, http.StatusBadRequest, "The new expiration date must be a future date like 2027-01-31.")
			return
		}
		until = &t
	}
	if _, err := u.Keys.Renew(r.Context(), r.PathValue("id"), until, nil, adminOf(r)); err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, "/settings/api-keys?msg=renewed", http.StatusSeeOther)
}

// listError shows the list with an error above it.
func (u *UI) listError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d, err := u.listData(r)
	if err != nil {
		u.fail(w, err)
		return
	}
	d.Error = msg
	u.render(w, status, "keys", d)
}

// reveal answers {"key": "gth_..."} for "Copy key".
func (u *UI) reveal(w http.ResponseWriter, r *http.Request) {
	secret, err := u.Keys.Reveal(r.Context(), r.PathValue("id"), adminOf(r))
	if err != nil {
		u.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"key": secret.Reveal()})
}

// fail answers an error as a plain page: not found, unavailable or internal.
func (u *UI) fail(w http.ResponseWriter, err error) {
	switch gatehouse.ErrorCode(err) {
	case gatehouse.ENotFound:
		http.Error(w, "That key does not exist (any more).", http.StatusNotFound)
	case gatehouse.EUnavailable:
		http.Error(w, "The key store cannot be reached; try again shortly.", http.StatusServiceUnavailable)
	default:
		u.Logger.Error("settings page", "err", err)
		http.Error(w, "Something went wrong; the error is in the gateway's log.", http.StatusInternalServerError)
	}
}
