package gateway

import (
	"net/http"
	"strconv"
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
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
	m.bytesOut.Add(float64(out))
	m.bytesIn.Add(float64(in))
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
