package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/internal/testenv"
)

// The end-to-end check in a real headless browser: an <img> and an <audio>
// whose sources are signed gateway links. The image renders, the audio plays
// and seeks, and the gateway sees the browser's range request.
func TestBrowser(t *testing.T) {
	chromium := os.Getenv("CASSTORE_TEST_CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	if chromium == "" {
		testenv.Unavailable(t, "chromium (CASSTORE_TEST_CHROMIUM unset, none on PATH)")
	}

	g := newGW(t, nil)
	img := g.attach(t, "T1", "preview.png", "image/png", pngBytes(t))
	wav := g.attach(t, "T1", "call.wav", "audio/wav", wavBytes(4*time.Second))
	var mu sync.Mutex
	var ranges []string
	g.observe = func(r *http.Request) {
		if rg := r.Header.Get("Range"); rg != "" && strings.Contains(r.URL.Path, wav.String()) {
			mu.Lock()
			ranges = append(ranges, rg)
			mu.Unlock()
		}
	}

	results := make(chan string, 1)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			pageTmpl.Execute(w, map[string]string{
				"Img":   g.link(t, img, cas.LinkOptions{Inline: true}),
				"Audio": g.link(t, wav, cas.LinkOptions{Inline: true}),
			})
		case "/result":
			b, _ := io.ReadAll(r.Body)
			select {
			case results <- string(b):
			default:
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer page.Close()

	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--autoplay-policy=no-user-gesture-required", "--mute-audio",
		"--user-data-dir="+t.TempDir(), page.URL+"/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers go with it
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()

	var raw string
	select {
	case raw = <-results:
	case <-time.After(60 * time.Second):
		t.Fatalf("no result from the browser in 60 s; chromium said:\n%s", stderr.String())
	}
	var res struct {
		ImgWidth int     `json:"imgWidth"`
		Played   bool    `json:"played"`
		PlayedTo float64 `json:"playedTo"`
		Duration float64 `json:"duration"`
		SeekedTo float64 `json:"seekedTo"`
		Error    string  `json:"error"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatalf("result %q: %v", raw, err)
	}
	t.Logf("browser: %s", raw)
	if res.Error != "" {
		t.Fatalf("page error: %s", res.Error)
	}
	if res.ImgWidth <= 0 {
		t.Errorf("image natural width %d", res.ImgWidth)
	}
	if !res.Played || res.PlayedTo <= 0 {
		t.Errorf("audio did not play: %+v", res)
	}
	if math.Abs(res.Duration-4) > 0.1 || math.Abs(res.SeekedTo-3) > 0.2 {
		t.Errorf("audio did not seek: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranges) == 0 {
		t.Error("the gateway saw no range request for the audio")
	}
	t.Logf("range requests: %q", ranges)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><body>
<img id="img" src="{{.Img}}">
<audio id="audio" preload="auto" src="{{.Audio}}"></audio>
<script>
const out = {};
const report = () => fetch("/result", {method: "POST", body: JSON.stringify(out)});
const img = document.getElementById("img"), audio = document.getElementById("audio");
const event = (el, name) => new Promise((ok, fail) => {
  el.addEventListener(name, ok, {once: true});
  el.addEventListener("error", () => fail(new Error(el.tagName + " error " + (el.error ? el.error.code : ""))), {once: true});
});
async function main() {
  if (!(img.complete && img.naturalWidth > 0)) await event(img, "load");
  out.imgWidth = img.naturalWidth;
  audio.muted = true;
  await audio.play();
  out.played = true;
  await new Promise(ok => setTimeout(ok, 400));
  out.playedTo = audio.currentTime;
  out.duration = audio.duration;
  const seeked = event(audio, "seeked");
  audio.currentTime = 3;
  await seeked;
  out.seekedTo = audio.currentTime;
  await report();
}
main().catch(e => { out.error = String(e); report(); });
</script>
</body></html>`))

func pngBytes(t *testing.T) []byte {
	m := image.NewRGBA(image.Rect(0, 0, 32, 16))
	for x := 0; x < 32; x++ {
		for y := 0; y < 16; y++ {
			m.Set(x, y, color.RGBA{uint8(x * 8), uint8(y * 16), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wavBytes is a mono 16-bit 8 kHz sine tone.
func wavBytes(d time.Duration) []byte {
	const rate = 8000
	n := int(d.Seconds() * rate)
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1)) // PCM
	le(uint16(1)) // mono
	le(uint32(rate))
	le(uint32(2 * rate))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := 0; i < n; i++ {
		le(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate)))
	}
	return b.Bytes()
}
