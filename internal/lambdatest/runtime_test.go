package lambdatest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRuntime plays the function's side of the Runtime API by hand: what
// the binaries never do (an init error, an unknown request id) is covered
// here.
func TestRuntime(t *testing.T) {
	rt := NewRuntime(t)
	base := "http://" + rt.Addr + apiPrefix
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type result struct {
		body []byte
		err  error
	}
	invoke := func(payload string) chan result {
		ch := make(chan result, 1)
		go func() {
			b, err := rt.Invoke(ctx, []byte(payload))
			ch <- result{b, err}
		}()
		return ch
	}
	next := func() (id string, payload string) {
		t.Helper()
		resp, err := http.Get(base + "invocation/next")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		deadline, _ := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
		if left := time.Until(time.UnixMilli(deadline)); resp.StatusCode != 200 || left < 29*time.Second || left > DefaultTimeout ||
			resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn") != DefaultFunctionARN {
			t.Fatalf("next: %d %v", resp.StatusCode, resp.Header)
		}
		return resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), string(b)
	}
	post := func(path, body string, header ...string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	done := invoke(`{"n":1}`)
	id, payload := next()
	if payload != `{"n":1}` || id == "" {
		t.Fatalf("next gave %q %q", id, payload)
	}
	if code := post("invocation/"+id+"/response", `{"ok":true}`); code != http.StatusAccepted {
		t.Fatalf("response: %d", code)
	}
	if r := <-done; r.err != nil || string(r.body) != `{"ok":true}` {
		t.Fatalf("Invoke = %s, %v", r.body, r.err)
	}
	if code := post("invocation/"+id+"/response", `{}`); code != http.StatusBadRequest {
		t.Errorf("second response to %s: %d, want 400", id, code)
	}

	done = invoke(`{"n":2}`)
	id, _ = next()
	post("invocation/"+id+"/error", `{"errorMessage":"boom","errorType":"errorString"}`, "Lambda-Runtime-Function-Error-Type", "Function.Boom")
	var fe *FunctionError
	if r := <-done; !errors.As(r.err, &fe) || fe.Type != "Function.Boom" || fe.Message != "boom" || fe.Init {
		t.Fatalf("Invoke error %v", r.err)
	}

	done = invoke(`{"n":3}`)
	post("init/error", `{"errorMessage":"no table","errorType":"Runtime.ExitError"}`)
	if r := <-done; !errors.As(r.err, &fe) || !fe.Init || fe.Message != "no table" || len(rt.InitErrors()) != 1 {
		t.Fatalf("Invoke after an init error: %v", r.err)
	}
}
