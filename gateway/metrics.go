package gateway

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// metrics are the gateway's Prometheus metrics, in a registry of its own so
// that several handlers in one process do not collide.
type metrics struct {
	reg             *prometheus.Registry
	handler         http.Handler
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	bytesOut        prometheus.Counter
	bytesIn         prometheus.Counter
	verifyFailures  prometheus.Counter
	inFlight        prometheus.Gauge
	uploadsInFlight prometheus.Gauge
	cached          [len(routes)][600]atomic.Pointer[children] // by route and status
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casstore_gateway_requests_total", Help: "Requests by route and status code (0: response cut off).",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "casstore_gateway_request_duration_seconds", Help: "Request duration by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route"}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casstore_gateway_response_bytes_total", Help: "Response body bytes sent.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casstore_gateway_request_bytes_total", Help: "Request body bytes received.",
		}),
		verifyFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casstore_gateway_verification_failures_total", Help: "Blobs that did not hash to their digest while served.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casstore_gateway_requests_in_flight", Help: "Requests being served.",
		}),
		uploadsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casstore_gateway_uploads_in_flight", Help: "Uploads being received.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.bytesOut, m.bytesIn, m.verifyFailures, m.inFlight, m.uploadsInFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route string, status int, out, in int64, d time.Duration) {
	requests, duration := m.children(route, status)
	requests.Inc()
	duration.Observe(d.Seconds())
	m.bytesOut.Add(float64(out))
	m.bytesIn.Add(float64(in))
}

// routes are the route labels, in the order of metrics.cached.
var routes = [...]string{routeBlob, routeTxn, routeUpload, routeUploadTxn, routeHealth, routeMetrics, routeOther}

// children are the labelled series of one route and status code, looked up
// once (WithLabelValues hashes the labels and locks on every call) and
// kept. A series appears on /metrics only once used, as before.
type children struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) children(route string, status int) (prometheus.Counter, prometheus.Observer) {
	ri := -1
	for i, r := range routes {
		if r == route {
			ri = i
			break
		}
	}
	if ri < 0 || status < 0 || status >= len(m.cached[0]) {
		return m.requests.WithLabelValues(route, strconv.Itoa(status)), m.duration.WithLabelValues(route)
	}
	slot := &m.cached[ri][status]
	if c := slot.Load(); c != nil {
		return c.requests, c.duration
	}
	c := &children{m.requests.WithLabelValues(route, strconv.Itoa(status)), m.duration.WithLabelValues(route)}
	slot.Store(c)
	return c.requests, c.duration
}

// Registry returns the handler's metrics registry, for an application that
// serves metrics elsewhere.
func (h *Handler) Registry() *prometheus.Registry { return h.metrics.reg }

// VerificationFailures returns how many blobs failed verification while
// served.
func (h *Handler) VerificationFailures() float64 {
	return counterValue(h.metrics.verifyFailures)
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
