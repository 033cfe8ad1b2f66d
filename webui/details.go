package webui

import (
	"net/http"
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
	k, err := u.Keys.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, err)
		return
	}
	d, err := u.Keys.Details(r.Context(), k.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	now := u.now()
	u.render(w, http.StatusOK, "details", detailsData{
		Title: k.Name, Session: sessionOf(r), Key: keys.NewView(k, now), Details: d,
		Days: usageByDay(d.Usage, now),
	})
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
