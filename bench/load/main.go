// Command load measures Gatehouse against the baseline it must keep up
// with. In one process it starts an upstream, a bare httputil.ReverseProxy
// to it, and a gatehouse (SQLite store, auth, scopes and rate limits on,
// 10,000 keys), then attacks the three in alternating rounds with vegeta,
// with the same requests (each with one of the keys in X-API-Key), and
// prints req/s, p50 and p99 for each and the ratios. -soak runs a soak test
// at half the measured maximum; -startup-keys measures memory per key and
// start-up time with that many keys in the store.
//
// Every attack is bounded in time and targets 127.0.0.1 only.
package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	_ "modernc.org/sqlite"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/keys"
	"gatehouse/proxy"
	"gatehouse/server"
)

// options are the flags of a measuring run.
type options struct {
	duration   time.Duration
	rounds     int
	workers    int
	keys       int
	soak       time.Duration
	startup    int
	cpuProfile string
	accessLog  bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each attack")
	flag.IntVar(&o.rounds, "rounds", 3, "alternating rounds of upstream, bare proxy, gatehouse")
	flag.IntVar(&o.workers, "workers", 32, "concurrent connections of the attacker")
	flag.IntVar(&o.keys, "keys", 10000, "keys in gatehouse's store")
	flag.DurationVar(&o.soak, "soak", 0, "if set, also soak gatehouse this long at half its measured maximum rate")
	flag.IntVar(&o.startup, "startup-keys", 0, "if set, only measure memory per key and start-up time with this many keys")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "if set, write CPU profiles of this process (upstream and the system attacked) during the last round of the bare proxy and of gatehouse to FILE.bare and FILE.gatehouse")
	flag.BoolVar(&o.accessLog, "access-log", false, "gatehouse writes its JSON access log to a file (off by default: the bare proxy logs nothing)")
	attackURL := flag.String("attack", "", "internal: attack this URL and print the result as JSON (the attacker runs in a process of its own)")
	keysFile := flag.String("keys-file", "", "internal: with -attack, the file of keys to send, one a line")
	rate := flag.Int("rate", 0, "internal: with -attack, requests per second (0: as fast as possible)")
	flag.Parse()
	if *attackURL != "" {
		if err := attackMain(*attackURL, *keysFile, *rate, o.duration, o.workers); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	upstream := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"158","name":"AHU-1 supply fan","type":"air-handling-unit"}`))
	}))
	cfg := config.Default()
	cfg.Storage = "sqlite:" + filepath.Join(dir, "gatehouse.db")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	cfg.RateLimit = "1000000/s" // limits on, never reached
	cfg.Routes = []config.Route{{Name: "assets", Path: "/api/v2/assets", Upstream: upstream + "/v2/assets", Scope: "assets"}}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if o.startup > 0 {
		return measureStartup(ctx, cfg, o.startup)
	}

	target, _ := url.Parse(upstream + "/v2/assets")
	bare := serve(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: proxy.NewTransport(),
	})

	fmt.Printf("creating %d keys...\n", o.keys)
	secrets, err := seedKeys(ctx, cfg, o.keys)
	if err != nil {
		return err
	}
	start := time.Now()
	logger := slog.New(slog.DiscardHandler)
	if o.accessLog {
		f, err := os.Create(filepath.Join(dir, "access.log"))
		if err != nil {
			return err
		}
		defer f.Close()
		logger = slog.New(slog.NewJSONHandler(f, nil))
	}
	gh, err := server.Open(ctx, cfg, server.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer gh.Close()
	fmt.Printf("gatehouse started with %d keys in %v\n", o.keys, time.Since(start).Round(time.Millisecond))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go gh.Serve(ctx, ln, nil)
	gateway := "http://" + ln.Addr().String()

	keysFile := filepath.Join(dir, "keys.txt")
	if err := os.WriteFile(keysFile, []byte(strings.Join(secrets, "\n")), 0o600); err != nil {
		return err
	}
	type system struct {
		name, url string
		results   []result
	}
	// Every system gets the same requests, keys included, so that the
	// difference is what the system does with them.
	direct := &system{name: "upstream", url: upstream + "/v2/assets/158"}
	bareProxy := &system{name: "bare proxy", url: bare + "/api/v2/assets/158"}
	gatehouse := &system{name: "gatehouse", url: gateway + "/api/v2/assets/158"}
	systems := []*system{direct, bareProxy, gatehouse}
	fmt.Printf("%d rounds × %v per system, %d workers, max rate; the attacker runs in a process of its own\n", o.rounds, o.duration, o.workers)
	for r := range o.rounds {
		for _, s := range systems {
			profiling := o.cpuProfile != "" && r == o.rounds-1 && s != direct
			if profiling {
				f, err := os.Create(o.cpuProfile + "." + strings.Fields(s.name)[0])
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			res, err := attackProcess(s.url, keysFile, 0, o.duration, o.workers)
			if profiling {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return err
			}
			s.results = append(s.results, res)
			fmt.Printf("  round %d %-10s %9.0f req/s  p50 %-9v p99 %-9v errors %d  CPU/req %v + %v\n", r+1, s.name, res.RPS, res.P50, res.P99, res.Errors, res.ServerCPU, res.ClientCPU)
		}
	}
	fmt.Println()
	fmt.Printf("%-10s %10s %10s %10s %8s\n", "median", "req/s", "p50", "p99", "errors")
	for _, s := range systems {
		m := median(s.results)
		fmt.Printf("%-10s %10.0f %10v %10v %8d\n", s.name, m.RPS, m.P50, m.P99, m.Errors)
	}
	g, b := median(gatehouse.results), median(bareProxy.results)
	fmt.Printf("\ngatehouse / bare proxy throughput: %.3fx   p99 difference: %v\n", g.RPS/b.RPS, g.P99-b.P99)
	// The machine's speed drifts between rounds; the ratio within each
	// round compares runs seconds apart.
	var ratios []float64
	var p99s []time.Duration
	for i := range o.rounds {
		gr, br := gatehouse.results[i], bareProxy.results[i]
		ratios = append(ratios, gr.RPS/br.RPS)
		p99s = append(p99s, gr.P99-br.P99)
	}
	fmt.Printf("median of the rounds' own ratios: %.3fx (range %.3f–%.3f)   p99 difference: %v\n",
		middle(ratios), slices.Min(ratios), slices.Max(ratios), middle(p99s))
	bs, bt := cpuPerRequest(bareProxy.results)
	gs, gt := cpuPerRequest(gatehouse.results)
	fmt.Printf("CPU per request (medians): bare proxy %v in-process, %v with the attacker; gatehouse %v, %v: bare/gatehouse %.3fx\n",
		bs, bt, gs, gt, float64(bt)/float64(gt))

	if o.soak > 0 {
		rate := int(g.RPS / 2)
		fmt.Printf("\nsoak: %v at %d req/s (half the measured maximum)\n", o.soak, rate)
		heap0 := heapMiB()
		res, err := attackProcess(gatehouse.url, keysFile, rate, o.soak, o.workers)
		if err != nil {
			return err
		}
		fmt.Printf("soak: %.0f req/s, p50 %v, p99 %v, errors %d, heap %.1f MiB → %.1f MiB\n", res.RPS, res.P50, res.P99, res.Errors, heap0, heapMiB())
	}
	return nil
}

type result struct {
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
	Errors   int           `json:"errors"`
	Requests uint64        `json:"requests"`
	// ServerCPU is the CPU time this process (upstream and the system
	// attacked) spent per request, and ClientCPU the attacker's: on a
	// saturated machine throughput follows their sum, and they vary much
	// less from round to round than throughput does.
	ServerCPU time.Duration `json:"-"`
	ClientCPU time.Duration `json:"-"`
}

// attackProcess runs the attacker as a child process of this program, so
// that its work is not counted against the systems it measures.
func attackProcess(url, keysFile string, rate int, d time.Duration, workers int) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self, "-attack", url, "-keys-file", keysFile, "-rate", strconv.Itoa(rate), "-duration", d.String(), "-workers", strconv.Itoa(workers))
	cmd.Stderr = os.Stderr
	before := selfCPU()
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("attacker: %w", err)
	}
	server := selfCPU() - before
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, err
	}
	if r.Requests > 0 {
		r.ServerCPU = server / time.Duration(r.Requests)
		r.ClientCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()) / time.Duration(r.Requests)
	}
	return r, nil
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// attackMain is the child: it attacks url with the keys of keysFile and
// prints the result as JSON.
func attackMain(url, keysFile string, rate int, d time.Duration, workers int) error {
	b, err := os.ReadFile(keysFile)
	if err != nil {
		return err
	}
	secrets := strings.Fields(string(b))
	if len(secrets) == 0 {
		return fmt.Errorf("no keys in %s", keysFile)
	}
	return json.NewEncoder(os.Stdout).Encode(attack(withKeys(url, secrets), rate, d, workers))
}

func attack(t vegeta.Targeter, rate int, d time.Duration, workers int) result {
	a := vegeta.NewAttacker(vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second))
	var m vegeta.Metrics
	pacer := vegeta.Rate{Freq: rate, Per: time.Second}
	for res := range a.Attack(t, pacer, d, "load") {
		m.Add(res)
	}
	m.Close()
	errs := 0
	for code, n := range m.StatusCodes {
		if code != "200" {
			errs += n
		}
	}
	return result{RPS: m.Throughput, P50: m.Latencies.P50, P99: m.Latencies.P99, Errors: errs, Requests: m.Requests}
}

// median is the result of the middle round: each figure's own median.
func median(rs []result) result {
	var rps []float64
	var p50s, p99s []time.Duration
	m := result{}
	for _, r := range rs {
		rps, p50s, p99s = append(rps, r.RPS), append(p50s, r.P50), append(p99s, r.P99)
		m.Errors += r.Errors
	}
	m.RPS, m.P50, m.P99 = middle(rps), middle(p50s), middle(p99s)
	return m
}

// cpuPerRequest returns the medians of the rounds' CPU time per request:
// of this process, and of this process and the attacker together.
func cpuPerRequest(rs []result) (server, total time.Duration) {
	var sv, tot []time.Duration
	for _, r := range rs {
		sv, tot = append(sv, r.ServerCPU), append(tot, r.ServerCPU+r.ClientCPU)
	}
	return middle(sv), middle(tot)
}

// middle returns the median of xs (the upper one of an even count).
func middle[T cmp.Ordered](xs []T) T {
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// withKeys cycles through the keys, one per request.
func withKeys(u string, secrets []string) vegeta.Targeter {
	var i atomic.Uint64
	return func(t *vegeta.Target) error {
		n := i.Add(1)
		t.Method, t.URL = "GET", u
		t.Header = http.Header{"X-Api-Key": {secrets[n%uint64(len(secrets))]}}
		return nil
	}
}

func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	return "http://" + ln.Addr().String()
}

// seedKeys puts n keys with assets:read into the store in one transaction
// (creating them one by one through keys.Service costs an fsync each) and
// returns the plain keys. It writes the sqlite store's api_keys table
// directly, so it follows sqlite/migrations.
func seedKeys(ctx context.Context, cfg *config.Config, n int) ([]string, error) {
	st, err := server.OpenStore(ctx, cfg, nil) // creates the schema
	if err != nil {
		return nil, err
	}
	st.Close()
	master, err := keys.LoadMasterKey(cfg.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	sealer, err := gatehouse.NewSealer(master)
	if err != nil {
		return nil, err
	}
	path, _ := cfg.SQLitePath()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_keys (id, name, name_key, digest, sealed, hint, valid_until, scopes,
		rate_requests, rate_per_ns, created_at, created_by, last_used_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 0, 0, ?, 'load', NULL)`)
	if err != nil {
		return nil, fmt.Errorf("prepare insert (does bench/load follow sqlite/migrations?): %w", err)
	}
	scopes, _ := json.Marshal([]string{"assets:read"})
	now := time.Now().UnixMilli()
	secrets := make([]string, 0, min(n, 100000))
	for i := range n {
		s := gatehouse.NewSecret()
		id := gatehouse.NewKeyID()
		d := s.Digest()
		name := fmt.Sprintf("load-%07d", i)
		if _, err := stmt.ExecContext(ctx, id, name, strings.ToLower(name), d[:], sealer.Seal(id, s), s.Hint(), string(scopes), now); err != nil {
			return nil, err
		}
		if len(secrets) < cap(secrets) {
			secrets = append(secrets, s.Reveal())
		}
	}
	return secrets, tx.Commit()
}

func measureStartup(ctx context.Context, cfg *config.Config, n int) error {
	fmt.Printf("creating %d keys...\n", n)
	if _, err := seedKeys(ctx, cfg, n); err != nil {
		return err
	}
	before := heapBytes()
	start := time.Now()
	gh, err := server.Open(ctx, cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	took := time.Since(start)
	after := heapBytes()
	fmt.Printf("start-up with %d keys: %v\n", n, took.Round(time.Millisecond))
	fmt.Printf("heap for the keys: %.1f MiB, %.0f bytes per key\n", float64(after-before)/(1<<20), float64(after-before)/float64(n))
	runtime.KeepAlive(gh)
	return gh.Close()
}

func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func heapMiB() float64 { return float64(heapBytes()) / (1 << 20) }
