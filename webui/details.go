package webui

import (
	"net/http"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

type detailsData struct {
	Title   string
	Session *session
	Key     keys.View
	Details *keys.Details
	Days    []usageDay
	// Rolled is true when the key has a previous secret (it was rolled).
	Rolled bool
	// Overlaps are the choices of the "Roll key" form.
	Overlaps []overlapChoice
	// NewKey is the new secret of a roll, shown this once.
	NewKey string
	Flash  string
	Error  string
	// FormIPs and FormGrace fill the edit form: the key's values, or what
	// was sent when it was refused.
	FormIPs, FormGrace string
}

// overlapChoice is one option of the "Overlap" field.
type overlapChoice struct {
	Value, Label string
}

// overlaps are the overlaps "Roll key" offers, up to gatehouse.MaxOverlap.
var overlaps = []overlapChoice{
	{"0s", "None: the old key stops at once"},
	{"1h", "1 hour"},
	{"24h", "1 day"},
	{"168h", "7 days"},
	{"720h", "30 days"},
}

// usageDay is one bar of the details page's request chart.
type usageDay struct {
	Label string
	Count int64
	// X, Y and Height place the bar in the chart's SVG.
	X, Y, Height int
}

// Geometry of the request chart: one column per day, bars up to barMax high
// above a baseline, with room for the count above and the day below.
const (
	chartDays = 7
	columnW   = 60
	barW      = 36
	barMax    = 80
	baseline  = 100
)

func (u *UI) detailsPage(w http.ResponseWriter, r *http.Request) {
	d, err := u.detailsData(r, r.PathValue("id"))
	if err != nil {
		u.fail(w, err)
		return
	}
	switch r.URL.Query().Get("msg") {
	case "disabled":
		d.Flash = "The key is disabled: requests with it are refused until it is enabled."
	case "enabled":
		d.Flash = "The key is enabled again."
	case "updated":
		d.Flash = "The changes are saved."
	}
	u.render(w, http.StatusOK, "details", d)
}

// detailsData reads what the details page of the key id shows.
func (u *UI) detailsData(r *http.Request, id string) (*detailsData, error) {
	k, err := u.Keys.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	d, err := u.Keys.Details(r.Context(), k.ID)
	if err != nil {
		return nil, err
	}
	now := u.now()
	v := keys.NewView(k, now)
	out := &detailsData{
		Title: k.Name, Session: sessionOf(r), Key: v, Details: d,
		Days: usageByDay(d.Usage, now), Rolled: k.PreviousDigest != nil, Overlaps: overlaps,
		FormIPs: strings.Join(v.AllowedIPs, "\n"),
	}
	if k.ReadOnlyGrace > 0 {
		out.FormGrace = k.ReadOnlyGrace.String()
	}
	return out, nil
}

// roll gives the key a new secret and shows it once on its details page.
func (u *UI) roll(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	overlap, err := time.ParseDuration(r.PostFormValue("overlap"))
	if err != nil {
		u.detailsError(w, r, id, "Pick an overlap for the old key.", "", "")
		return
	}
	// The form names the key it was shown with (its hint): a form sent
	// again (a reload) after the key was rolled is refused, so that it
	// cannot end at once the overlap the first roll started.
	k, err := u.Keys.Get(r.Context(), id)
	if err != nil {
		u.fail(w, err)
		return
	}
	if k.Hint != r.PostFormValue("from") {
		u.detailsError(w, r, id, "This key was rolled since this page was shown; it was not rolled again. Use “Roll key” below to roll it once more.", "", "")
		return
	}
	_, secret, err := u.Keys.Roll(r.Context(), id, overlap, adminOf(r))
	if gatehouse.ErrorCode(err) == gatehouse.EInvalidRequest {
		u.detailsError(w, r, id, gatehouse.ErrorMessage(err), "", "")
		return
	} else if err != nil {
		u.fail(w, err)
		return
	}
	d, err := u.detailsData(r, id)
	if err != nil {
		u.fail(w, err)
		return
	}
	d.NewKey = secret.Reveal()
	u.render(w, http.StatusOK, "details", d)
}

// setDisabled returns the handler of "Disable" (disabled true) or
// "Enable".
func (u *UI) setDisabled(disabled bool) http.HandlerFunc {
	msg := "enabled"
	if disabled {
		msg = "disabled"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := u.Keys.SetDisabled(r.Context(), id, disabled, adminOf(r)); err != nil {
			u.fail(w, err)
			return
		}
		http.Redirect(w, r, "/settings/api-keys/"+id+"?msg="+msg, http.StatusSeeOther)
	}
}

// update saves the edit form: the allowed addresses (one a line, none for
// any) and the read-only grace (a duration such as 24h, empty for none).
func (u *UI) update(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ipsText, graceText := r.PostFormValue("allowedIps"), strings.TrimSpace(r.PostFormValue("readOnlyGrace"))
	ips := []string{}
	for line := range strings.Lines(ipsText) {
		if line = strings.TrimSpace(line); line != "" {
			ips = append(ips, line)
		}
	}
	var grace time.Duration
	if graceText != "" {
		var err error
		if grace, err = time.ParseDuration(graceText); err != nil {
			u.detailsError(w, r, id, "The read-only grace must be a duration such as 24h or 90m, or empty for none.", ipsText, graceText)
			return
		}
	}
	_, err := u.Keys.Update(r.Context(), id, keys.UpdateRequest{AllowedIPs: &ips, ReadOnlyGrace: &grace}, adminOf(r))
	if gatehouse.ErrorCode(err) == gatehouse.EInvalidRequest {
		u.detailsError(w, r, id, gatehouse.ErrorMessage(err), ipsText, graceText)
		return
	} else if err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, "/settings/api-keys/"+id+"?msg=updated", http.StatusSeeOther)
}

// detailsError shows the key's details page with an error above it and,
// when the edit form was refused, what was sent in it.
func (u *UI) detailsError(w http.ResponseWriter, r *http.Request, id, msg, ips, grace string) {
	d, err := u.detailsData(r, id)
	if err != nil {
		u.fail(w, err)
		return
	}
	d.Error = msg
	if ips != "" || grace != "" {
		d.FormIPs, d.FormGrace = ips, grace
	}
	u.render(w, http.StatusBadRequest, "details", d)
}

// usageByDay sums hourly counts into the last seven UTC days, today last,
// and lays them out as bars scaled to the busiest day.
func usageByDay(usage []gatehouse.Usage, now time.Time) []usageDay {
	today := now.UTC().Truncate(24 * time.Hour)
	days := make([]usageDay, chartDays)
	for i := range days {
		day := today.AddDate(0, 0, i-chartDays+1)
		days[i].Label = day.Format("Mon 2")
	}
	for _, us := range usage {
		i := chartDays - 1 - int(today.Sub(us.Hour.UTC().Truncate(24*time.Hour))/(24*time.Hour))
		if i >= 0 && i < chartDays {
			days[i].Count += us.Count
		}
	}
	var most int64
	for _, d := range days {
		most = max(most, d.Count)
	}
	for i := range days {
		h := 2 // an empty day still shows a sliver, so the axis reads
		if most > 0 && days[i].Count > 0 {
			h = max(h, int(days[i].Count*barMax/most))
		}
		days[i].X = i*columnW + (columnW-barW)/2
		days[i].Height = h
		days[i].Y = baseline - h
	}
	return days
}
