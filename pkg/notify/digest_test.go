package notify

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

// Every field of Config counts in its digest, so that a changed secret,
// header or client rebuilds the notifier.
func TestDigestCoversEveryField(t *testing.T) {
	base := Config{}
	want := base.Digest()
	if (Config{}).Digest() != want {
		t.Fatal("the digest is not stable")
	}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		c := base
		v := reflect.ValueOf(&c).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int64:
			v.SetInt(int64(time.Second))
		case reflect.Map:
			v.Set(reflect.ValueOf(map[string]Secret{"k": "v"}))
		case reflect.Pointer:
			v.Set(reflect.ValueOf(&http.Client{}))
		default:
			t.Fatalf("field %s: kind %s is not covered by this test", f.Name, v.Kind())
		}
		if c.Digest() == want {
			t.Errorf("field %s does not change the digest", f.Name)
		}
	}
}

// Moving bytes from one part into the next changes the digest.
func TestDigestSeparatesParts(t *testing.T) {
	a := Config{Headers: map[string]Secret{"a": "bc"}}
	b := Config{Headers: map[string]Secret{"ab": "c"}}
	if a.Digest() == b.Digest() {
		t.Error("headers a=bc and ab=c collide")
	}
	if (Config{Name: "ab", Namespace: "c"}).Digest() == (Config{Name: "a", Namespace: "bc"}).Digest() {
		t.Error("name and namespace collide")
	}
}
