package emftest

import (
	"strings"
	"testing"
	"time"
)

// The specification's own example.
const example = `{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"lambda-function-metrics",` +
	`"Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds"}]}]},` +
	`"functionVersion":"$LATEST","time":100,"requestId":"989ffbf8-9ace-4817-a57c-e4dd734019ee"}`

func TestParseExample(t *testing.T) {
	d, err := Parse([]byte(example + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Timestamp.Equal(time.UnixMilli(1574109732004)) || d.Namespace != "lambda-function-metrics" ||
		d.Dimensions["functionVersion"] != "$LATEST" || d.Metrics["time"] != (Metric{100, "Milliseconds"}) ||
		len(d.DimensionSets) != 1 || len(d.DimensionSets[0]) != 1 {
		t.Errorf("%+v", d)
	}
}

// Each break of the example must be refused, naming what is wrong.
func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ name, old, new, want string }{
		{"text before", `{"_aws"`, `INFO {"_aws"`, "not a JSON object"},
		{"text after", `4019ee"}`, `4019ee"} trailing`, "after the JSON object"},
		{"no _aws", `"_aws"`, `"aws"`, "no _aws"},
		{"timestamp in seconds", `1574109732004`, `1574109732`, "milliseconds"},
		{"timestamp a string", `1574109732004`, `"1574109732004"`, "Timestamp"},
		{"fractional timestamp", `1574109732004`, `1574109732004.5`, "integer"},
		{"extra _aws member", `"Timestamp"`, `"LogGroupName":"x","Timestamp"`, "LogGroupName"},
		{"no directives", `[{"Namespace":"lambda-function-metrics","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds"}]}]`, `[]`, "CloudWatchMetrics"},
		{"AWS namespace", `"lambda-function-metrics"`, `"AWS/Lambda"`, "Namespace"},
		{"no dimension sets", `"Dimensions":[["functionVersion"]]`, `"Dimensions":[]`, "Dimensions"},
		{"dimension without target", `[["functionVersion"]]`, `[["functionVersion","stage"]]`, `"stage"`},
		{"numeric dimension", `"functionVersion":"$LATEST"`, `"functionVersion":1`, `"functionVersion"`},
		{"empty dimension value", `"functionVersion":"$LATEST"`, `"functionVersion":""`, `"functionVersion"`},
		{"blank dimension value", `"functionVersion":"$LATEST"`, `"functionVersion":"  "`, `"functionVersion"`},
		{"non-ASCII dimension value", `"functionVersion":"$LATEST"`, `"functionVersion":"été"`, "ASCII"},
		{"metric without target", `"Name":"time"`, `"Name":"duration"`, `"duration"`},
		{"string metric", `"time":100`, `"time":"100"`, `"time"`},
		{"empty metric array", `"time":100`, `"time":[]`, `"time"`},
		{"unknown unit", `"Unit":"Milliseconds"`, `"Unit":"ms"`, "unit"},
		{"storage resolution", `"Unit":"Milliseconds"`, `"Unit":"Milliseconds","StorageResolution":5`, "StorageResolution"},
		{"extra definition member", `"Unit":"Milliseconds"`, `"Unit":"Milliseconds","Value":1`, `"Value"`},
		{"dimension as a metric", `"Metrics":[{"Name":"time"`, `"Metrics":[{"Name":"functionVersion"},{"Name":"time"`, `"functionVersion"`},
		{"metric defined twice", `"Metrics":[{"Name":"time"`, `"Metrics":[{"Name":"time"},{"Name":"time"`, "twice"},
		{"duplicate root member", `"time":100`, `"time":100,"time":200`, "twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(example, c.old) {
				t.Fatalf("the example does not contain %q", c.old)
			}
			_, err := Parse([]byte(strings.Replace(example, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestLines(t *testing.T) {
	log := "START RequestId: 1\n" + `{"level":"INFO","msg":"delivered"}` + "\n" + example + "\n" +
		strings.Replace(example, `"time":100`, `"time":"x"`, 1) + "\nEND\n"
	docs, err := Lines(log)
	if len(docs) != 1 || err == nil || !strings.Contains(err.Error(), `"time"`) {
		t.Errorf("Lines: %d documents, err %v; want 1 and the bad line's error", len(docs), err)
	}
}
