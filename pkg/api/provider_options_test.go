package api

import (
	"strings"
	"testing"
)

func TestIgnoredProviderOptionsWarn(t *testing.T) {
	doc := func(typ, extra string) string {
		return "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: p, namespace: ns}\nspec:\n  type: " + typ + "\n" + extra
	}
	tests := []struct {
		name, yaml string
		want       string // "" for no warning
	}{
		{"lark proxy", doc("lark", "  address: https://open.larksuite.com/x\n  proxy: http://proxy:8080\n"),
			"ns.yaml: document 0: Provider/ns/p: spec.proxy: ignored: lark providers do not use a proxy"},
		{"discord cert", doc("discord", "  address: https://discord.com/api/webhooks/x\n  certSecretRef: {name: ca}\n"),
			"Provider/ns/p: spec.certSecretRef: ignored: discord providers do not use custom TLS settings"},
		{"discord channel", doc("discord", "  address: https://discord.com/api/webhooks/x\n  channel: general\n"),
			"Provider/ns/p: spec.channel: ignored: discord providers post to the channel of their webhook"},
		{"telegram address", doc("telegram", "  address: https://example.com\n  channel: \"-100\"\n"),
			"Provider/ns/p: spec.address: ignored: telegram always posts to https://api.telegram.org"},
		{"pagerduty path", doc("pagerduty", "  address: https://events.pagerduty.com/v2/x\n  channel: key\n"),
			"Provider/ns/p: spec.address: partly ignored: pagerduty uses only the scheme and host"},
		{"pagerduty without a path", doc("pagerduty", "  address: https://events.pagerduty.com\n  channel: key\n"), ""},
		{"datadog without a path", doc("datadog", "  address: https://api.datadoghq.com/\n"), ""},
		{"zulip path", doc("zulip", "  address: https://my-org.zulipchat.com/api\n  channel: a/b\n"),
			"Provider/ns/p: spec.address: partly ignored: zulip replaces the path"},
		{"slack proxy is used", doc("slack", "  address: https://hooks.slack.com/x\n  proxy: http://proxy:8080\n"), ""},
		{"generic cert is used", doc("generic", "  address: https://example.com\n  certSecretRef: {name: ca}\n"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Decode("ns.yaml", []byte(tc.yaml+"---\napiVersion: v1\nkind: Secret\nmetadata: {name: ca, namespace: ns}\nstringData: {ca.crt: x}\n"))
			if err != nil {
				t.Fatal(err)
			}
			res := Validate(cfg, ValidateOptions{})
			var ignored []string
			for _, w := range res.Warnings {
				if strings.Contains(w.Error(), "ignored") {
					ignored = append(ignored, w.Error())
				}
			}
			switch {
			case tc.want == "" && len(ignored) > 0:
				t.Fatalf("unexpected warnings %v", ignored)
			case tc.want != "" && (len(ignored) != 1 || !strings.Contains(ignored[0], tc.want)):
				t.Fatalf("warnings %v, want one containing %q", ignored, tc.want)
			}
		})
	}
}
