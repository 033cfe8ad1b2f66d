// Package demo is the sample building API behind `gatehouse serve --demo`:
// a few assets, their latest readings as a stream, and a websocket that
// pushes readings. It exists so that a newcomer can create a key and call
// an API through the gateway in a minute; tests use their own upstreams.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Asset is a piece of building equipment.
type Asset struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Location string `json:"location"`
}

// Reading is one measurement of an asset.
type Reading struct {
	AssetID string    `json:"assetId"`
	Metric  string    `json:"metric"`
	Value   float64   `json:"value"`
	Unit    string    `json:"unit"`
	At      time.Time `json:"at"`
}

var assets = []Asset{
	{ID: "158", Name: "AHU-1 supply fan", Type: "air-handling-unit", Location: "Roof"},
	{ID: "159", Name: "Chiller 2", Type: "chiller", Location: "Basement plant room"},
	{ID: "160", Name: "Meeting room 3.14 sensor", Type: "room-sensor", Location: "Floor 3"},
}

// Handler returns the sample API. It serves /v2/assets, /v2/assets/{id},
// /v2/data (ndjson stream of readings) and /v2/data-listener (websocket).
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/assets", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, assets)
	})
	mux.HandleFunc("GET /v2/assets/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, a := range assets {
			if a.ID == r.PathValue("id") {
				writeJSON(w, http.StatusOK, a)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such asset"})
	})
	mux.HandleFunc("GET /v2/data", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		for i := range 5 {
			if i > 0 {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			for _, a := range assets {
				enc.Encode(reading(a, time.Now()))
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	})
	mux.HandleFunc("GET /v2/data-listener", listen)
	return mux
}

func listen(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, a := range assets {
			b, _ := json.Marshal(reading(a, time.Now()))
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return
		case <-t.C:
		}
	}
}

func reading(a Asset, now time.Time) Reading {
	phase := float64(now.UnixMilli()%60000) / 60000 * 2 * math.Pi
	switch a.Type {
	case "chiller":
		return Reading{AssetID: a.ID, Metric: "supply-water-temperature", Value: round(6.5 + 0.5*math.Sin(phase)), Unit: "°C", At: now.UTC()}
	case "room-sensor":
		return Reading{AssetID: a.ID, Metric: "co2", Value: round(650 + 120*math.Sin(phase)), Unit: "ppm", At: now.UTC()}
	}
	return Reading{AssetID: a.ID, Metric: "fan-speed", Value: round(72 + 8*math.Sin(phase)), Unit: "%", At: now.UTC()}
}

func round(v float64) float64 { return math.Round(v*10) / 10 }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Server is a running sample API on a loopback port.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	srv *http.Server
}

// Start serves the sample API on a free loopback port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return &Server{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

// Close stops the sample API.
func (s *Server) Close() error { return s.srv.Close() }

// Routes returns the demo routes as YAML-free values: name, gateway path,
// upstream URL and scope.
func (s *Server) Routes() [][4]string {
	base := strings.TrimSuffix(s.URL, "/")
	return [][4]string{
		{"assets", "/api/v2/assets", base + "/v2/assets", "assets"},
		{"data", "/api/v2/data", base + "/v2/data", "data"},
		{"data-listener", "/api/v2/data-listener", base + "/v2/data-listener", "data"},
	}
}
