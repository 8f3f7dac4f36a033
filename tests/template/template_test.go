// Package template checks deploy/template.yaml, the AWS SAM template of
// Herald, without AWS: goformation parses it strictly, and this test checks
// what goformation lets through (dangling references, event properties,
// policy documents, template sections) and the wiring docs/aws.md fixes.
package template

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7"
	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
)

const (
	templatePath = "../../deploy/template.yaml"
	docsPath     = "../../docs/aws.md"
	makefilePath = "../../Makefile"
	readmePath   = "../../deploy/README.md"
	repoRoot     = "../.."
)

// The logical IDs and types the template must hold, and nothing else: an
// extra IAM policy or role would escape the least-privilege checks below.
var wantResources = map[string]string{
	"HttpApi":          "AWS::Serverless::HttpApi",
	"Table":            "AWS::DynamoDB::Table",
	"DeliveryQueue":    "AWS::SQS::Queue",
	"DeadLetterQueue":  "AWS::SQS::Queue",
	"DispatchFunction": "AWS::Serverless::Function",
	"DispatchLogGroup": "AWS::Logs::LogGroup",
	"DispatchRole":     "AWS::IAM::Role",
	"ReceiverFunction": "AWS::Serverless::Function",
	"ReceiverLogGroup": "AWS::Logs::LogGroup",
	"ReceiverRole":     "AWS::IAM::Role",

	"DeadLetterAlarm":     "AWS::CloudWatch::Alarm",
	"OldestDeliveryAlarm": "AWS::CloudWatch::Alarm",
	"DispatchErrorsAlarm": "AWS::CloudWatch::Alarm",
	"ReceiverErrorsAlarm": "AWS::CloudWatch::Alarm",
	"AlarmTopic":          "AWS::SNS::Topic",
	"AlarmTopicPolicy":    "AWS::SNS::TopicPolicy",
}

// function describes one Lambda function and the resources that belong to it.
type function struct {
	logicalID   string
	short       string // docs/aws.md's name, the functions/ directory, the FunctionName suffix
	role        string
	logGroup    string
	errorsAlarm string
}

var functions = []function{
	{"DispatchFunction", "dispatch", "DispatchRole", "DispatchLogGroup", "DispatchErrorsAlarm"},
	{"ReceiverFunction", "receiver", "ReceiverRole", "ReceiverLogGroup", "ReceiverErrorsAlarm"},
}

// How each environment variable of docs/aws.md is wired.
var envWiring = map[string]any{
	"HERALD_TABLE":               ref("Table"),
	"HERALD_QUEUE_URL":           ref("DeliveryQueue"),
	"HERALD_DLQ_URL":             ref("DeadLetterQueue"),
	"HERALD_SECRET_PREFIX":       ref("SecretPrefix"),
	"HERALD_CONFIG_TTL":          ref("ConfigTTL"),
	"HERALD_SECRET_TTL":          ref("SecretTTL"),
	"HERALD_RATE_LIMIT_INTERVAL": ref("RateLimitInterval"),
	"HERALD_MAX_DELIVERY_AGE":    ref("MaxDeliveryAge"),
	"HERALD_LOG_LEVEL":           ref("LogLevel"),
}

// Parameter defaults the issue fixes.
var wantDefaults = map[string]string{
	"SecretPrefix":      "herald/",
	"LogRetentionDays":  "30",
	"FunctionTimeout":   "30",
	"MaxDeliveryAge":    "1h",
	"ConfigTTL":         "30s",
	"RateLimitInterval": "5m",
	"AlarmEmail":        "",
}

const secretARN = "sub:arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}*"

// grant is one action allowed on one resource, with the partition keys a
// DynamoDB grant is limited to (dynamodb:LeadingKeys), sorted and joined.
type grant struct{ action, resource, leadingKeys string }

func (g grant) String() string {
	if g.leadingKeys != "" {
		return fmt.Sprintf("%s on %s for partition keys %s", g.action, g.resource, g.leadingKeys)
	}
	return fmt.Sprintf("%s on %s", g.action, g.resource)
}

func grants(resource, leadingKeys string, actions ...string) []grant {
	var out []grant
	for _, a := range actions {
		out = append(out, grant{a, resource, leadingKeys})
	}
	return out
}

// The exact permissions of each role. Resources are written as canon writes
// them: "Res.Attr" for !GetAtt, "sub:..." for !Sub.
var wantGrants = map[string][]grant{
	"DispatchRole": slices.Concat(
		grants("DispatchLogGroup.Arn", "", "logs:CreateLogStream", "logs:PutLogEvents"),
		grants("Table.Arn", "config,dedup#*,delivery#*", "dynamodb:Query", "dynamodb:GetItem"),
		grants("Table.Arn", "dedup#*,delivery#*", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
		grants("Table.Arn", "replay#*", "dynamodb:PutItem"),
		grants("DeliveryQueue.Arn", "", "sqs:SendMessage", "sqs:SendMessageBatch", "sqs:ChangeMessageVisibility",
			"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
		grants("DeadLetterQueue.Arn", "", "sqs:SendMessage"),
		grants(secretARN, "", "secretsmanager:GetSecretValue"),
	),
	"ReceiverRole": slices.Concat(
		grants("ReceiverLogGroup.Arn", "", "logs:CreateLogStream", "logs:PutLogEvents"),
		grants("Table.Arn", "config,hook#*,reconcile#*", "dynamodb:Query", "dynamodb:GetItem"),
		grants("Table.Arn", "reconcile#*", "dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"),
		grants("Table.Arn", "replay#*", "dynamodb:PutItem"),
		grants(secretARN, "", "secretsmanager:GetSecretValue"),
	),
}

// Attributes Fn::GetAtt may name, per resource type used here.
var getAttAttributes = map[string][]string{
	"AWS::CloudWatch::Alarm":    {"Arn"},
	"AWS::DynamoDB::Table":      {"Arn", "StreamArn"},
	"AWS::IAM::Role":            {"Arn", "RoleId"},
	"AWS::Logs::LogGroup":       {"Arn"},
	"AWS::SQS::Queue":           {"Arn", "QueueName", "QueueUrl"},
	"AWS::Serverless::Function": {"Arn"},
	"AWS::SNS::Topic":           {"TopicArn", "TopicName"},
}

var pseudoParameters = []string{
	"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
	"AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}

// CloudWatch Logs accepts only these retention periods.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
	2557, 2922, 3288, 3653}

// ---------------------------------------------------------------- the tests

func TestTemplate(t *testing.T) {
	in := readInputs(t)
	tp, problems := load(in)
	for _, p := range problems {
		t.Error(p)
	}
	if tp == nil {
		return
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			r := &report{}
			c.fn(tp, r)
			for _, p := range r.list {
				t.Error(p)
			}
		})
	}
}

// TestChecksFail proves the checks can fail: each case breaks a copy of the
// template in one way and expects a problem that names the break. Some breaks
// are goformation's to catch (a misspelt resource property), most are ours
// (goformation accepts dangling references and unknown event properties).
func TestChecksFail(t *testing.T) {
	in := readInputs(t)
	cases := []struct {
		name, old, new, want string
	}{
		{"misspelt resource property", "      VisibilityTimeout: !FindInMap", "      VisibilityTimout: !FindInMap", "VisibilityTimout"},
		{"misspelt event property", "FunctionResponseTypes: [ReportBatchItemFailures]", "FunctionResponseType: [ReportBatchItemFailures]", "FunctionResponseType"},
		{"misspelt parameter key", "    Default: 30s", "    Defualt: 30s", "Defualt"},
		{"misspelt policy key", "                Resource: !GetAtt Table.Arn", "                Resources: !GetAtt Table.Arn", "Resources"},
		{"misspelt template section", "\nOutputs:\n", "\nOutput:\n", "Output"},
		{"dangling Ref", "HERALD_QUEUE_URL: !Ref DeliveryQueue", "HERALD_QUEUE_URL: !Ref DeliveryQeue", `"DeliveryQeue"`},
		{"dangling GetAtt", "deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn", "deadLetterTargetArn: !GetAtt DeadLetterQeue.Arn", `"DeadLetterQeue"`},
		{"dangling Sub variable", "secret:${SecretPrefix}*", "secret:${SecretPrefx}*", `"SecretPrefx"`},
		{"unknown GetAtt attribute", "Queue: !GetAtt DeliveryQueue.Arn", "Queue: !GetAtt DeliveryQueue.Url", `"Url"`},
		{"unknown event type", "          Type: SQS\n", "          Type: SQSQueue\n", "SQSQueue"},
		{"route path", "Path: /events", "Path: /event", "POST /event"},
		{"route to the wrong function", "            Method: GET\n", "            Method: POST\n", "POST /reconcile-requests"},
		{"misspelt environment variable", "HERALD_RATE_LIMIT_INTERVAL: !Ref", "HERALD_RATE_LIMIT: !Ref", "HERALD_RATE_LIMIT"},
		{"wildcard resource", "Resource: !GetAtt DeadLetterQueue.Arn", `Resource: "*"`, `"*"`},
		{"extra action", "Action: sqs:SendMessage\n", "Action: [sqs:SendMessage, sqs:PurgeQueue]\n", "sqs:PurgeQueue"},
		{"unscoped table access", "                  ForAllValues:StringLike:\n                    dynamodb:LeadingKeys: [\"reconcile#*\"]\n", "", "LeadingKeys"},
		{"short visibility timeout", `"30": {Seconds: 190}`, `"30": {Seconds: 179}`, "VisibilityTimeout"},
		{"unmapped function timeout", "AllowedValues: [10, 15, 20, 30,", "AllowedValues: [10, 15, 20, 25, 30,", `"25"`},
		{"max receive count", "maxReceiveCount: !FindInMap [DeliveryReceives, !Ref MaxDeliveryAge, Count]", "maxReceiveCount: 5", "maxReceiveCount"},
		{"max receive count off the schedule", "1h: {Count: 48}", "1h: {Count: 8}", "DeliveryReceives"},
		{"max delivery age without a receive count", "AllowedValues: [15m, 30m, 1h,", "AllowedValues: [15m, 30m, 45m, 1h,", `"45m"`},
		{"architecture", "Architectures: [arm64]", "Architectures: [x86_64]", "arm64"},
		{"missing output", "  QueueUrl:\n    Description: SQS delivery queue.\n    Value: !Ref DeliveryQueue\n", "", "QueueUrl"},
		{"log retention", "      RetentionInDays: !Ref LogRetentionDays\n", "", "RetentionInDays"},
		// The alarms, their topic and its condition.
		{"DLQ alarm on the delivery queue", "          Value: !GetAtt DeadLetterQueue.QueueName", "          Value: !GetAtt DeliveryQueue.QueueName", "DeadLetterAlarm.Dimensions"},
		{"DLQ alarm on messages in flight", "MetricName: ApproximateNumberOfMessagesVisible", "MetricName: ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesNotVisible"},
		{"DLQ alarm threshold", "      Threshold: 0\n", "      Threshold: 1\n", "DeadLetterAlarm.Threshold"},
		{"DLQ alarm cleared by an idle queue", "      TreatMissingData: ignore", "      TreatMissingData: notBreaching", "DeadLetterAlarm.TreatMissingData"},
		{"age alarm on the DLQ", "          Value: !GetAtt DeliveryQueue.QueueName", "          Value: !GetAtt DeadLetterQueue.QueueName", "OldestDeliveryAlarm.Dimensions"},
		{"age threshold off half the horizon", "1h: {Seconds: 1800}", "1h: {Seconds: 3600}", "OldestDeliveryAlarm.Threshold for MaxDeliveryAge 1h"},
		{"age threshold missing a horizon", "    15m: {Seconds: 450}\n", "", `OldestDeliveryAge has no key "15m"`},
		{"age threshold not following MaxDeliveryAge", "Threshold: !FindInMap [OldestDeliveryAge, !Ref MaxDeliveryAge, Seconds]", "Threshold: 1800", "OldestDeliveryAlarm.Threshold"},
		{"errors alarm on the wrong function", "          Value: !Ref ReceiverFunction", "          Value: !Ref DispatchFunction", "ReceiverErrorsAlarm.Dimensions"},
		{"errors alarm on throttles", "      MetricName: Errors", "      MetricName: Throttles", "DispatchErrorsAlarm.MetricName"},
		{"errors alarm averaged", "      Statistic: Sum", "      Statistic: Average", "DispatchErrorsAlarm.Statistic"},
		{"alarm period", "      Period: 300", "      Period: 90", "DeadLetterAlarm.Period 90"},
		{"misspelt alarm property", "      TreatMissingData: ignore", "      TreatMissingDatas: ignore", "TreatMissingDatas"},
		{"unconditional alarm action", "      AlarmActions: !If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]", "      AlarmActions: [!Ref AlarmTopic]", "outside !If [HasAlarmEmail, ...]"},
		{"no OK action", "      OKActions: !If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]\n", "", "DeadLetterAlarm.OKActions"},
		{"dangling If condition", "AlarmActions: !If [HasAlarmEmail,", "AlarmActions: !If [HasAlarmMail,", `"HasAlarmMail"`},
		{"inverted condition", `HasAlarmEmail: !Not [!Equals [!Ref AlarmEmail, ""]]`, `HasAlarmEmail: !Equals [!Ref AlarmEmail, ""]`, `HasAlarmEmail with AlarmEmail ""`},
		{"email pattern refuses the default", `AllowedPattern: '^$|^[^@`, `AllowedPattern: '^[^@`, `default "" does not match`},
		{"topic without the condition", "    Type: AWS::SNS::Topic\n    Condition: HasAlarmEmail\n", "    Type: AWS::SNS::Topic\n", "AlarmTopic.Condition"},
		{"output without the condition", "    Condition: HasAlarmEmail\n    Description: SNS topic", "    Description: SNS topic", "Outputs.AlarmTopicArn refers to AlarmTopic"},
		{"SMS subscription", "        - Protocol: email", "        - Protocol: sms", "AlarmTopic.Subscription"},
		{"topic under the AWS managed key", "      DisplayName: !Sub ${AWS::StackName} alarms\n", "      DisplayName: !Sub ${AWS::StackName} alarms\n      KmsMasterKeyId: alias/aws/sns\n", "KmsMasterKeyId"},
		{"topic policy for every principal", "Principal: {Service: cloudwatch.amazonaws.com}", `Principal: {AWS: "*"}`, "AlarmTopicPolicy: statements"},
		{"topic policy for any alarm", ":alarm:${AWS::StackName}-*", ":alarm:*", "AlarmTopicPolicy: statements"},
		{"alarm name outside the topic policy", "AlarmName: !Sub ${AWS::StackName}-dead-letters", "AlarmName: herald-dead-letters", "AlarmTopicPolicy would refuse"},
		{"undocumented parameter", "Conditions:\n", "  Extra:\n    Type: String\n    Default: x\n\nConditions:\n", "no row for Extra"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := string(in.template)
			if !strings.Contains(src, c.old) {
				t.Fatalf("the template no longer contains %q; update this case", c.old)
			}
			mutated := in
			mutated.template = []byte(strings.Replace(src, c.old, c.new, 1))
			all := allProblems(mutated)
			for _, p := range all {
				if strings.Contains(p, c.want) {
					t.Logf("rejected: %s", p)
					return
				}
			}
			t.Errorf("no problem mentions %q; problems: %q", c.want, all)
		})
	}
}

// ------------------------------------------------------------ loading

type inputs struct {
	template, docs, makefile, readme []byte
}

func readInputs(t *testing.T) inputs {
	t.Helper()
	var in inputs
	for _, f := range []struct {
		path string
		dst  *[]byte
	}{{templatePath, &in.template}, {docsPath, &in.docs}, {makefilePath, &in.makefile}, {readmePath, &in.readme}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = b
	}
	return in
}

type report struct{ list []string }

func (r *report) add(format string, args ...any) {
	r.list = append(r.list, fmt.Sprintf(format, args...))
}

// tmpl is the template as plain data: maps, lists and scalars, with the YAML
// short forms turned into their long forms ({"Ref": X}, {"Fn::GetAtt": [R, A]}, ...).
type tmpl struct {
	root                                    map[string]any
	params, mappings, resources, conditions map[string]any
	docs                                    string
	makefile                                string
	readme                                  string
}

// load parses the template with goformation and by itself. A nil tmpl means
// the template could not be read at all.
func load(in inputs) (*tmpl, []string) {
	r := &report{}
	root, err := parseYAML(in.template)
	if err != nil {
		r.add("YAML: %v", err)
		return nil, r.list
	}
	tp := &tmpl{
		root:       root,
		params:     asMap(root["Parameters"]),
		mappings:   asMap(root["Mappings"]),
		resources:  asMap(root["Resources"]),
		conditions: asMap(root["Conditions"]),
		docs:       string(in.docs),
		makefile:   string(in.makefile),
		readme:     string(in.readme),
	}
	checkGoformation(in.template, tp, r)
	return tp, r.list
}

func allProblems(in inputs) []string {
	tp, list := load(in)
	if tp == nil {
		return list
	}
	for _, c := range checks {
		r := &report{}
		c.fn(tp, r)
		list = append(list, r.list...)
	}
	return list
}

// checkGoformation parses the template with goformation, which rejects
// unknown or mistyped resource properties, and compares what it saw with our
// own reading.
func checkGoformation(data []byte, tp *tmpl, r *report) {
	cf, err := goformation.ParseYAML(data)
	if err != nil {
		r.add("goformation: %v", err)
		return
	}
	for name, res := range cf.Resources {
		if got, want := res.AWSCloudFormationType(), str(asMap(tp.resources[name])["Type"]); got != want {
			r.add("goformation reads resource %s as %s, we read %q", name, got, want)
		}
	}
	if len(cf.Resources) != len(tp.resources) {
		r.add("goformation reads %d resources, we read %d", len(cf.Resources), len(tp.resources))
	}
	for _, f := range functions {
		fn, err := cf.GetServerlessFunctionWithName(f.logicalID)
		if err != nil {
			r.add("goformation: %v", err)
			continue
		}
		if fn.Runtime == nil || fn.Handler == nil || !reflect.DeepEqual(fn.Architectures, []string{"arm64"}) ||
			*fn.Runtime != "provided.al2023" || *fn.Handler != "bootstrap" {
			r.add("goformation reads %s with runtime %v, handler %v, architectures %v", f.logicalID,
				deref(fn.Runtime), deref(fn.Handler), fn.Architectures)
		}
		if got, want := sortedKeys(fn.Events), sortedKeys(asMap(prop(tp.resources[f.logicalID], "Events"))); !slices.Equal(got, want) {
			r.add("goformation reads events %v on %s, we read %v", got, f.logicalID, want)
		}
	}
}

// ------------------------------------------------------------ the checks

var checks = []struct {
	name string
	fn   func(*tmpl, *report)
}{
	{"Strict", checkStrict},
	{"References", checkReferences},
	{"Resources", checkResources},
	{"Parameters", checkParameters},
	{"Functions", checkFunctions},
	{"Routes", checkRoutes},
	{"Environment", checkEnvironment},
	{"Queue", checkQueue},
	{"Table", checkTable},
	{"IAM", checkIAM},
	{"LogGroups", checkLogGroups},
	{"Outputs", checkOutputs},
	{"Conditions", checkConditions},
	{"ConditionalReferences", checkConditionalReferences},
	{"Alarms", checkAlarms},
	{"AlarmTopic", checkAlarmTopic},
	{"ParameterDocs", checkParameterDocs},
}

var (
	topLevelKeys = []string{"AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters",
		"Rules", "Mappings", "Conditions", "Resources", "Outputs"}
	parameterKeys = []string{"Type", "Default", "Description", "AllowedValues", "AllowedPattern",
		"ConstraintDescription", "MinValue", "MaxValue", "MinLength", "MaxLength", "NoEcho"}
	outputKeys      = []string{"Value", "Description", "Export", "Condition"}
	eventKeys       = []string{"Type", "Properties"}
	eventProperties = map[string][]string{
		"HttpApi": {"ApiId", "Auth", "Method", "Path", "PayloadFormatVersion", "RouteSettings", "TimeoutInMillis"},
		"SQS": {"Queue", "BatchSize", "Enabled", "FilterCriteria", "FunctionResponseTypes", "KmsKeyArn",
			"MaximumBatchingWindowInSeconds", "MetricsConfig", "ScalingConfig"},
	}
	functionMetadataKeys = []string{"BuildMethod", "BuildProperties"}
	policyKeys           = []string{"Version", "Id", "Statement"}
	statementKeys        = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition",
		"Principal", "NotPrincipal"}
	redriveKeys = []string{"deadLetterTargetArn", "maxReceiveCount"}
)

// checkStrict rejects unknown keys where goformation does not: template
// sections, parameters, outputs, function events (goformation tries every
// event type and silently drops properties that fit none), function metadata,
// IAM policy documents and the redrive policy (free-form to goformation).
func checkStrict(tp *tmpl, r *report) {
	unknownKeys(tp.root, topLevelKeys, "template", r)
	if _, ok := tp.root["Globals"]; ok {
		r.add("template: Globals are not merged by goformation and hide what a function deploys with; write the properties on each function")
	}
	for _, name := range sortedKeys(tp.params) {
		p := asMap(tp.params[name])
		unknownKeys(p, parameterKeys, "Parameters."+name, r)
	}
	for _, name := range sortedKeys(asMap(tp.root["Outputs"])) {
		unknownKeys(asMap(asMap(tp.root["Outputs"])[name]), outputKeys, "Outputs."+name, r)
	}
	for _, name := range sortedKeys(tp.resources) {
		res := asMap(tp.resources[name])
		switch str(res["Type"]) {
		case "AWS::Serverless::Function":
			unknownKeys(asMap(res["Metadata"]), functionMetadataKeys, name+".Metadata", r)
			events := asMap(prop(res, "Events"))
			for _, ev := range sortedKeys(events) {
				e := asMap(events[ev])
				path := name + ".Events." + ev
				unknownKeys(e, eventKeys, path, r)
				typ := str(e["Type"])
				allowed, ok := eventProperties[typ]
				if !ok {
					r.add("%s: event type %q; Herald's functions take only HttpApi and SQS events", path, typ)
					continue
				}
				unknownKeys(asMap(e["Properties"]), allowed, path+".Properties", r)
			}
		case "AWS::IAM::Role":
			strictPolicy(prop(res, "AssumeRolePolicyDocument"), name+".AssumeRolePolicyDocument", r)
			for i, p := range asList(prop(res, "Policies")) {
				strictPolicy(asMap(p)["PolicyDocument"], fmt.Sprintf("%s.Policies[%d].PolicyDocument", name, i), r)
			}
		case "AWS::SQS::Queue":
			if rp := prop(res, "RedrivePolicy"); rp != nil {
				unknownKeys(asMap(rp), redriveKeys, name+".RedrivePolicy", r)
			}
		case "AWS::SNS::TopicPolicy":
			strictPolicy(prop(res, "PolicyDocument"), name+".PolicyDocument", r)
		}
	}
}

func strictPolicy(doc any, path string, r *report) {
	d := asMap(doc)
	if d == nil {
		r.add("%s: not a policy document", path)
		return
	}
	unknownKeys(d, policyKeys, path, r)
	for i, st := range statements(d) {
		unknownKeys(st, statementKeys, fmt.Sprintf("%s.Statement[%d]", path, i), r)
	}
}

func unknownKeys(m map[string]any, allowed []string, path string, r *report) {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			r.add("%s: unknown key %q (known: %s)", path, k, strings.Join(allowed, ", "))
		}
	}
}

// checkReferences checks that every Ref, GetAtt, ${} in Sub, FindInMap,
// DependsOn and Condition names something that exists.
func checkReferences(tp *tmpl, r *report) {
	for _, name := range sortedKeys(tp.resources) {
		res := asMap(tp.resources[name])
		for _, dep := range strs(res["DependsOn"]) {
			if _, ok := tp.resources[dep]; !ok {
				r.add("%s.DependsOn: %q names no resource", name, dep)
			}
		}
		if c, ok := res["Condition"]; ok {
			if _, ok := tp.conditions[str(c)]; !ok {
				r.add("%s.Condition: %q names no condition", name, str(c))
			}
		}
		tp.walkReferences(res["Properties"], name+".Properties", r)
	}
	outputs := asMap(tp.root["Outputs"])
	for _, name := range sortedKeys(outputs) {
		tp.walkReferences(asMap(outputs[name])["Value"], "Outputs."+name, r)
	}
	tp.walkReferences(tp.root["Conditions"], "Conditions", r)
}

func (tp *tmpl) walkReferences(v any, path string, r *report) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				switch fn {
				case "Ref":
					tp.checkRef(str(arg), path, "!Ref", r)
					return
				case "Fn::GetAtt":
					tp.checkGetAtt(arg, path, r)
					return
				case "Fn::Sub":
					tp.checkSub(arg, path, r)
					return
				case "Fn::FindInMap":
					tp.checkFindInMap(arg, path, r)
					return
				case "Condition":
					// In Conditions, {"Condition": name} uses another condition;
					// elsewhere a Condition key holds a map (IAM) and is walked.
					if name, ok := arg.(string); ok {
						if _, ok := tp.conditions[name]; !ok {
							r.add("%s: Condition %q names no condition", path, name)
						}
						return
					}
				case "Fn::If":
					if args := asList(arg); len(args) == 3 {
						if _, ok := tp.conditions[str(args[0])]; !ok {
							r.add("%s: !If %q names no condition", path, str(args[0]))
						}
						tp.walkReferences(args[1], path, r)
						tp.walkReferences(args[2], path, r)
					} else {
						r.add("%s: !If takes three arguments", path)
					}
					return
				}
			}
		}
		for _, k := range sortedKeys(x) {
			tp.walkReferences(x[k], path+"."+k, r)
		}
	case []any:
		for i, e := range x {
			tp.walkReferences(e, fmt.Sprintf("%s[%d]", path, i), r)
		}
	}
}

func (tp *tmpl) checkRef(name, path, how string, r *report) {
	if strings.HasPrefix(name, "AWS::") {
		if !slices.Contains(pseudoParameters, name) {
			r.add("%s: %s %q is no pseudo parameter", path, how, name)
		}
		return
	}
	_, param := tp.params[name]
	_, res := tp.resources[name]
	if !param && !res {
		r.add("%s: %s %q names no parameter, resource or pseudo parameter", path, how, name)
	}
}

func (tp *tmpl) checkGetAtt(arg any, path string, r *report) {
	args := asList(arg)
	if len(args) != 2 || str(args[0]) == "" || str(args[1]) == "" {
		r.add("%s: !GetAtt %v is not [resource, attribute]", path, arg)
		return
	}
	tp.checkAttribute(str(args[0]), str(args[1]), path, "!GetAtt", r)
}

func (tp *tmpl) checkAttribute(resource, attr, path, how string, r *report) {
	res, ok := tp.resources[resource]
	if !ok {
		r.add("%s: %s %q names no resource", path, how, resource)
		return
	}
	typ := str(asMap(res)["Type"])
	attrs, ok := getAttAttributes[typ]
	if !ok {
		r.add("%s: %s on %s: this test knows no attributes of %s; add them to getAttAttributes", path, how, resource, typ)
		return
	}
	if !slices.Contains(attrs, attr) {
		r.add("%s: %s %s.%s: %s has no attribute %q (it has %s)", path, how, resource, attr, typ, attr, strings.Join(attrs, ", "))
	}
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

func (tp *tmpl) checkSub(arg any, path string, r *report) {
	var (
		text  string
		local map[string]any
	)
	switch x := arg.(type) {
	case string:
		text = x
	case []any:
		if len(x) != 2 || asMap(x[1]) == nil {
			r.add("%s: !Sub %v is neither a string nor [string, variables]", path, arg)
			return
		}
		text, local = str(x[0]), asMap(x[1])
		for _, k := range sortedKeys(local) {
			tp.walkReferences(local[k], path+".Sub."+k, r)
		}
	default:
		r.add("%s: !Sub %v is neither a string nor [string, variables]", path, arg)
		return
	}
	for _, m := range subVariable.FindAllStringSubmatch(text, -1) {
		v := m[1]
		switch {
		case strings.HasPrefix(v, "!"): // ${!Literal}
		case local[v] != nil:
		case strings.HasPrefix(v, "AWS::"):
			tp.checkRef(v, path, "${}", r)
		case strings.Contains(v, "."):
			res, attr, _ := strings.Cut(v, ".")
			tp.checkAttribute(res, attr, path, "${}", r)
		default:
			tp.checkRef(v, path, "${}", r)
		}
	}
}

func (tp *tmpl) checkFindInMap(arg any, path string, r *report) {
	args := asList(arg)
	if len(args) != 3 {
		r.add("%s: !FindInMap takes [map, key, key], got %v", path, arg)
		return
	}
	mapping := asMap(tp.mappings[str(args[0])])
	if mapping == nil {
		r.add("%s: !FindInMap %q names no mapping", path, str(args[0]))
		return
	}
	// The first key: a literal must exist; a parameter must have
	// AllowedValues that all exist.
	var keys []string
	if name := refName(args[1]); name != "" {
		tp.checkRef(name, path, "!Ref", r)
		allowed := strs(asMap(tp.params[name])["AllowedValues"])
		if allowed == nil {
			r.add("%s: !FindInMap keyed by parameter %s, which has no AllowedValues", path, name)
		}
		keys = allowed
	} else if s := str(args[1]); s != "" {
		keys = []string{s}
	} else {
		tp.walkReferences(args[1], path, r)
	}
	for _, k := range keys {
		entry := asMap(mapping[k])
		if entry == nil {
			r.add("%s: mapping %s has no key %q", path, str(args[0]), k)
			continue
		}
		if k2 := str(args[2]); k2 != "" {
			if _, ok := entry[k2]; !ok {
				r.add("%s: mapping %s.%s has no key %q", path, str(args[0]), k, k2)
			}
		}
	}
}

func checkResources(tp *tmpl, r *report) {
	if got := str(tp.root["Transform"]); got != "AWS::Serverless-2016-10-31" {
		r.add("Transform is %q, want AWS::Serverless-2016-10-31", got)
	}
	for name, typ := range wantResources {
		if got := str(asMap(tp.resources[name])["Type"]); got != typ {
			r.add("resource %s: type %q, want %s", name, got, typ)
		}
	}
	for _, name := range sortedKeys(tp.resources) {
		if _, ok := wantResources[name]; !ok {
			r.add("resource %s (%s) is not one this test knows; review its permissions and add it to wantResources",
				name, str(asMap(tp.resources[name])["Type"]))
		}
	}
	if v := prop(tp.resources["HttpApi"], "FailOnWarnings"); v != true {
		r.add("HttpApi.FailOnWarnings is %v, want true", v)
	}
}

// checkParameters checks the defaults the issue fixes, that every default
// satisfies its own constraints, and that every parameter is used.
func checkParameters(tp *tmpl, r *report) {
	for name, want := range wantDefaults {
		p := asMap(tp.params[name])
		if p == nil {
			r.add("parameter %s is missing", name)
			continue
		}
		if got := scalar(p["Default"]); got != want {
			r.add("parameter %s: default %q, want %q", name, got, want)
		}
	}
	used := map[string]bool{}
	collectUses(tp.root["Resources"], used)
	collectUses(tp.root["Outputs"], used)
	collectUses(tp.root["Conditions"], used)
	for _, name := range sortedKeys(tp.params) {
		p := asMap(tp.params[name])
		if !used[name] {
			r.add("parameter %s is never used", name)
		}
		def, hasDefault := p["Default"]
		if !hasDefault {
			r.add("parameter %s has no default", name)
			continue
		}
		d := scalar(def)
		if allowed := strs(p["AllowedValues"]); allowed != nil && !slices.Contains(allowed, d) {
			r.add("parameter %s: default %q is not among its AllowedValues %v", name, d, allowed)
		}
		if pat := str(p["AllowedPattern"]); pat != "" {
			re, err := regexp.Compile("^(?:" + pat + ")$")
			if err != nil {
				r.add("parameter %s: AllowedPattern: %v", name, err)
			} else if !re.MatchString(d) {
				r.add("parameter %s: default %q does not match its AllowedPattern %s", name, d, pat)
			}
		}
		switch str(p["Type"]) {
		case "Number":
			n, err := strconv.ParseFloat(d, 64)
			if err != nil {
				r.add("parameter %s: default %q is not a number", name, d)
				continue
			}
			if v, ok := p["MinValue"]; ok && n < number(v) {
				r.add("parameter %s: default %v is below MinValue %v", name, n, v)
			}
			if v, ok := p["MaxValue"]; ok && n > number(v) {
				r.add("parameter %s: default %v is above MaxValue %v", name, n, v)
			}
		case "String":
		default:
			r.add("parameter %s: type %q; this template uses String and Number", name, str(p["Type"]))
		}
	}
}

func collectUses(v any, used map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if n := refName(x); n != "" {
				used[n] = true
				return
			}
			if sub, ok := x["Fn::Sub"]; ok {
				text := str(sub)
				if l := asList(sub); len(l) == 2 {
					text = str(l[0])
					collectUses(l[1], used)
				}
				for _, m := range subVariable.FindAllStringSubmatch(text, -1) {
					used[m[1]] = true
				}
				return
			}
		}
		for _, e := range x {
			collectUses(e, used)
		}
	case []any:
		for _, e := range x {
			collectUses(e, used)
		}
	}
}

func checkFunctions(tp *tmpl, r *report) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		r.add("%v", err)
		return
	}
	for _, f := range functions {
		res := tp.resources[f.logicalID]
		if res == nil {
			r.add("function %s is missing", f.logicalID)
			continue
		}
		p := asMap(asMap(res)["Properties"])
		for key, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap"} {
			if got := str(p[key]); got != want {
				r.add("%s.%s is %q, want %q", f.logicalID, key, got, want)
			}
		}
		if got := strs(p["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
			r.add("%s.Architectures is %v, want [arm64]", f.logicalID, got)
		}
		if got := str(asMap(asMap(res)["Metadata"])["BuildMethod"]); got != "makefile" {
			r.add("%s.Metadata.BuildMethod is %q, want makefile", f.logicalID, got)
		}
		// CodeUri is relative to the template; it must be the repository root,
		// whose Makefile has the target sam build calls.
		codeURI := str(p["CodeUri"])
		if codeURI == "" {
			r.add("%s.CodeUri is not a local path", f.logicalID)
		} else if dir, _ := filepath.Abs(filepath.Join(filepath.Dir(templatePath), codeURI)); dir != root {
			r.add("%s.CodeUri %q is %s, want the repository root %s", f.logicalID, codeURI, dir, root)
		}
		checkMakeTarget(tp.makefile, "build-"+f.logicalID, "./functions/"+f.short, r)
		if got := getAttName(p["Role"]); got != f.role+".Arn" {
			r.add("%s.Role is %v, want !GetAtt %s.Arn", f.logicalID, p["Role"], f.role)
		}
		if _, ok := p["Policies"]; ok {
			r.add("%s.Policies: the function has its own role (%s); SAM would ignore these or attach managed policies with \"*\" resources", f.logicalID, f.role)
		}
		if got := refName(p["Timeout"]); got != "FunctionTimeout" {
			r.add("%s.Timeout is %v, want !Ref FunctionTimeout", f.logicalID, p["Timeout"])
		}
		if mem, err := tp.evalInt(p["MemorySize"], nil); err != nil || mem < 128 || mem > 10240 {
			r.add("%s.MemorySize %v: %d, %v", f.logicalID, p["MemorySize"], mem, err)
		}
		// The explicit log group must be the one Lambda writes to.
		name, ok1 := subText(p["FunctionName"])
		lg, ok2 := subText(prop(tp.resources[f.logGroup], "LogGroupName"))
		if !ok1 || !ok2 || lg != "/aws/lambda/"+name || !strings.HasSuffix(name, "-"+f.short) {
			r.add("%s.FunctionName %v and %s.LogGroupName %v: want /aws/lambda/<FunctionName>, with FunctionName ending -%s",
				f.logicalID, p["FunctionName"], f.logGroup, prop(tp.resources[f.logGroup], "LogGroupName"), f.short)
		}
	}
}

// checkMakeTarget finds target in the Makefile and checks that it builds pkg
// into $(ARTIFACTS_DIR)/bootstrap.
func checkMakeTarget(makefile, target, pkg string, r *report) {
	lines := strings.Split(makefile, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, target+":") })
	if i < 0 {
		r.add("Makefile: no target %s, which sam build calls for BuildMethod makefile", target)
		return
	}
	var recipe strings.Builder
	for _, l := range lines[i+1:] {
		if !strings.HasPrefix(l, "\t") {
			break
		}
		recipe.WriteString(l)
	}
	for _, want := range []string{"$(ARTIFACTS_DIR)/bootstrap", pkg} {
		if !strings.Contains(recipe.String(), want) {
			r.add("Makefile: target %s does not mention %s", target, want)
		}
	}
}

var docRoute = regexp.MustCompile(`^- (GET|POST|PUT|PATCH|DELETE|ANY)\s+(\S+)\s+->\s+(\w+)`)

// checkRoutes compares the HttpApi events with docs/aws.md's routes and
// checks the SQS event.
func checkRoutes(tp *tmpl, r *report) {
	want := map[string]string{}
	for _, l := range section(tp.docs, "## HTTP API routes") {
		if m := docRoute.FindStringSubmatch(l); m != nil {
			want[m[1]+" "+m[2]] = functionByShort(m[3])
		}
	}
	if len(want) == 0 {
		r.add("docs/aws.md: found no routes under \"## HTTP API routes\"")
	}
	got := map[string]string{}
	sqsEvents := 0
	for _, f := range functions {
		events := asMap(prop(tp.resources[f.logicalID], "Events"))
		for _, name := range sortedKeys(events) {
			e := asMap(events[name])
			p := asMap(e["Properties"])
			path := f.logicalID + ".Events." + name
			switch str(e["Type"]) {
			case "HttpApi":
				if refName(p["ApiId"]) != "HttpApi" {
					r.add("%s.ApiId is %v, want !Ref HttpApi", path, p["ApiId"])
				}
				if v, ok := p["PayloadFormatVersion"]; ok && str(v) != "2.0" {
					r.add("%s.PayloadFormatVersion is %v, want \"2.0\"", path, v)
				}
				key := strings.ToUpper(str(p["Method"])) + " " + str(p["Path"])
				if other, dup := got[key]; dup {
					r.add("%s: route %s is also on %s", path, key, other)
				}
				got[key] = f.logicalID
			case "SQS":
				sqsEvents++
				if f.logicalID != "DispatchFunction" {
					r.add("%s: only DispatchFunction consumes the delivery queue", path)
				}
				if getAttName(p["Queue"]) != "DeliveryQueue.Arn" {
					r.add("%s.Queue is %v, want !GetAtt DeliveryQueue.Arn", path, p["Queue"])
				}
				if got := strs(p["FunctionResponseTypes"]); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
					r.add("%s.FunctionResponseTypes is %v, want [ReportBatchItemFailures]", path, got)
				}
				if n, err := tp.evalInt(p["BatchSize"], nil); err != nil || n < 1 || n > 10 {
					r.add("%s.BatchSize %v: want 1 to 10 (%v)", path, p["BatchSize"], err)
				}
				if w := batchingWindow(tp, p); w < 0 || w > 5 {
					r.add("%s.MaximumBatchingWindowInSeconds %v: want 0 to 5 seconds, deliveries are latency-sensitive", path, p["MaximumBatchingWindowInSeconds"])
				}
			}
		}
	}
	if sqsEvents != 1 {
		r.add("%d SQS events, want exactly one (DispatchFunction on DeliveryQueue)", sqsEvents)
	}
	for _, key := range sortedKeys(want) {
		switch fn, ok := got[key]; {
		case !ok:
			r.add("route %s (docs/aws.md) is missing; want it on %s", key, want[key])
		case fn != want[key]:
			r.add("route %s is on %s, docs/aws.md puts it on %s", key, fn, want[key])
		}
	}
	for _, key := range sortedKeys(got) {
		if _, ok := want[key]; !ok {
			r.add("route %s on %s is not in docs/aws.md", key, got[key])
		}
	}
}

func batchingWindow(tp *tmpl, sqsEvent map[string]any) int {
	v, ok := sqsEvent["MaximumBatchingWindowInSeconds"]
	if !ok {
		return 0
	}
	n, err := tp.evalInt(v, nil)
	if err != nil {
		return -1
	}
	return n
}

func functionByShort(short string) string {
	for _, f := range functions {
		if f.short == short {
			return f.logicalID
		}
	}
	return "unknown function " + short
}

var (
	docEnvLine    = regexp.MustCompile(`^- (HERALD_[A-Z0-9_]+)\s+(.*)$`)
	docEnvDefault = regexp.MustCompile(`default "?([^",;)\s]+)"?`)
)

// checkEnvironment compares each function's environment with docs/aws.md:
// every variable it lists, on dispatch only when marked so, wired as
// envWiring says, with the documented default as the parameter's default.
func checkEnvironment(tp *tmpl, r *report) {
	want := map[string]map[string]any{}
	for _, f := range functions {
		want[f.logicalID] = map[string]any{}
	}
	for _, l := range section(tp.docs, "## Environment variables") {
		m := docEnvLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name, rest := m[1], m[2]
		wiring, ok := envWiring[name]
		if !ok {
			r.add("docs/aws.md lists %s, which this test does not know how to wire; add it to envWiring", name)
			continue
		}
		want["DispatchFunction"][name] = wiring
		if !strings.Contains(rest, "(dispatch") {
			want["ReceiverFunction"][name] = wiring
		}
		if d := docEnvDefault.FindStringSubmatch(rest); d != nil {
			if p := refName(wiring); p != "" {
				if got := scalar(asMap(tp.params[p])["Default"]); got != d[1] {
					r.add("%s: parameter %s defaults to %q, docs/aws.md says %q", name, p, got, d[1])
				}
			}
		}
	}
	if len(want["DispatchFunction"]) == 0 {
		r.add("docs/aws.md: found no variables under \"## Environment variables\"")
	}
	for _, f := range functions {
		got := asMap(asMap(prop(tp.resources[f.logicalID], "Environment"))["Variables"])
		for _, name := range sortedKeys(want[f.logicalID]) {
			v, ok := got[name]
			switch {
			case !ok:
				r.add("%s: environment variable %s is missing", f.logicalID, name)
			case !reflect.DeepEqual(v, want[f.logicalID][name]):
				r.add("%s: %s is %v, want %v", f.logicalID, name, v, want[f.logicalID][name])
			}
		}
		for _, name := range sortedKeys(got) {
			if _, ok := want[f.logicalID][name]; !ok {
				r.add("%s: environment variable %s is not in docs/aws.md for this function", f.logicalID, name)
			}
		}
	}
}

func checkQueue(tp *tmpl, r *report) {
	q := asMap(asMap(tp.resources["DeliveryQueue"])["Properties"])
	dlq := asMap(asMap(tp.resources["DeadLetterQueue"])["Properties"])
	if q == nil || dlq == nil {
		r.add("DeliveryQueue or DeadLetterQueue has no properties")
		return
	}
	if q["FifoQueue"] == true || dlq["FifoQueue"] == true {
		r.add("the delivery queues are standard queues")
	}
	rp := asMap(q["RedrivePolicy"])
	if getAttName(rp["deadLetterTargetArn"]) != "DeadLetterQueue.Arn" {
		r.add("DeliveryQueue.RedrivePolicy.deadLetterTargetArn is %v, want !GetAtt DeadLetterQueue.Arn", rp["deadLetterTargetArn"])
	}
	// maxReceiveCount follows MaxDeliveryAge, which HERALD_MAX_DELIVERY_AGE
	// is, through the mapping: for every age offered, it is what the code's
	// retry schedule needs, and within SQS's limit of 1000.
	ages := strs(asMap(tp.params["MaxDeliveryAge"])["AllowedValues"])
	if len(ages) == 0 {
		r.add("parameter MaxDeliveryAge offers no AllowedValues, so maxReceiveCount cannot follow it")
	}
	for _, age := range ages {
		d, err := time.ParseDuration(age)
		if err != nil {
			r.add("MaxDeliveryAge value %q is not a Go duration", age)
			continue
		}
		n, err := tp.evalInt(rp["maxReceiveCount"], map[string]string{"MaxDeliveryAge": age})
		if want := sqsqueue.MaxReceiveCount(d); err != nil || n != want || n > 1000 {
			r.add("DeliveryQueue.RedrivePolicy.maxReceiveCount for MaxDeliveryAge %s is %d (%v), want %d (mapping DeliveryReceives, sqsqueue.MaxReceiveCount)", age, n, err, want)
		}
	}
	if _, ok := dlq["RedrivePolicy"]; ok {
		r.add("DeadLetterQueue has a RedrivePolicy; it is the last stop")
	}
	if n, err := tp.evalInt(dlq["MessageRetentionPeriod"], nil); err != nil || n != 14*24*3600 {
		r.add("DeadLetterQueue.MessageRetentionPeriod is %v, want 1209600 (14 days)", dlq["MessageRetentionPeriod"])
	}
	retention := 4 * 24 * 3600 // the SQS default
	if v, ok := q["MessageRetentionPeriod"]; ok {
		retention, _ = tp.evalInt(v, nil)
	}
	if dlqRetention, _ := tp.evalInt(dlq["MessageRetentionPeriod"], nil); retention >= dlqRetention {
		r.add("DeliveryQueue keeps messages %d s, the DLQ %d s: a redriven message keeps its enqueue time, so the DLQ must keep them longer", retention, dlqRetention)
	}

	// VisibilityTimeout >= 6 x the consumer's timeout (+ the batching window),
	// for every timeout the parameters allow.
	window := 0
	for _, e := range asMap(prop(tp.resources["DispatchFunction"], "Events")) {
		if str(asMap(e)["Type"]) == "SQS" {
			window = batchingWindow(tp, asMap(asMap(e)["Properties"]))
		}
	}
	timeout := prop(tp.resources["DispatchFunction"], "Timeout")
	param := refName(timeout)
	candidates := []string{""}
	if param != "" {
		p := asMap(tp.params[param])
		candidates = strs(p["AllowedValues"])
		if candidates == nil {
			r.add("parameter %s has no AllowedValues, so the visibility timeout cannot be checked for every value", param)
			candidates = []string{scalar(p["Default"])}
		}
	}
	for _, c := range candidates {
		override := map[string]string{}
		if param != "" {
			override[param] = c
		}
		fnTimeout, err1 := tp.evalInt(timeout, override)
		vis, err2 := tp.evalInt(q["VisibilityTimeout"], override)
		switch {
		case err1 != nil || err2 != nil:
			r.add("FunctionTimeout %s: cannot evaluate Timeout (%v) or VisibilityTimeout (%v)", c, err1, err2)
		case fnTimeout < 1 || fnTimeout > 900:
			r.add("DispatchFunction.Timeout %d is outside Lambda's 1 to 900 seconds", fnTimeout)
		case vis < 6*fnTimeout+window:
			r.add("DeliveryQueue.VisibilityTimeout %d < 6 x function timeout %d + batching window %d", vis, fnTimeout, window)
		case vis > 43200:
			r.add("DeliveryQueue.VisibilityTimeout %d exceeds SQS's 12 hours", vis)
		}
	}
}

func checkTable(tp *tmpl, r *report) {
	res := asMap(tp.resources["Table"])
	p := asMap(res["Properties"])
	if got := str(p["BillingMode"]); got != "PAY_PER_REQUEST" {
		r.add("Table.BillingMode is %q, want PAY_PER_REQUEST", got)
	}
	wantKeys := []any{
		map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
		map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
	}
	if !reflect.DeepEqual(p["KeySchema"], wantKeys) {
		r.add("Table.KeySchema is %v, want pk HASH, sk RANGE", p["KeySchema"])
	}
	wantAttrs := []any{
		map[string]any{"AttributeName": "pk", "AttributeType": "S"},
		map[string]any{"AttributeName": "sk", "AttributeType": "S"},
	}
	if !reflect.DeepEqual(p["AttributeDefinitions"], wantAttrs) {
		r.add("Table.AttributeDefinitions is %v, want pk S, sk S", p["AttributeDefinitions"])
	}
	ttl := asMap(p["TimeToLiveSpecification"])
	if str(ttl["AttributeName"]) != "expiresAt" || ttl["Enabled"] != true {
		r.add("Table.TimeToLiveSpecification is %v, want expiresAt enabled", ttl)
	}
	if asMap(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"] != true {
		r.add("Table: point-in-time recovery is off")
	}
	for _, k := range []string{"GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"} {
		if _, ok := p[k]; ok {
			r.add("Table.%s: docs/aws.md's table has none", k)
		}
	}
	if str(res["DeletionPolicy"]) != "Retain" || str(res["UpdateReplacePolicy"]) != "Retain" {
		r.add("Table: DeletionPolicy and UpdateReplacePolicy must be Retain; it holds the config")
	}
}

// checkIAM compares each role's permissions with wantGrants, exactly.
func checkIAM(tp *tmpl, r *report) {
	for _, f := range functions {
		role := asMap(tp.resources[f.role])
		p := asMap(role["Properties"])
		if p == nil {
			r.add("role %s is missing", f.role)
			continue
		}
		for _, k := range []string{"ManagedPolicyArns", "PermissionsBoundary"} {
			if _, ok := p[k]; ok {
				r.add("%s.%s: the role's permissions are its inline policies only", f.role, k)
			}
		}
		trust := statements(asMap(p["AssumeRolePolicyDocument"]))
		wantTrust := map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "lambda.amazonaws.com"},
			"Action":    "sts:AssumeRole",
		}
		if len(trust) != 1 || !reflect.DeepEqual(trust[0], wantTrust) {
			r.add("%s.AssumeRolePolicyDocument: want exactly %v", f.role, wantTrust)
		}
		got := map[grant]bool{}
		for i, pol := range asList(p["Policies"]) {
			for j, st := range statements(asMap(asMap(pol)["PolicyDocument"])) {
				path := fmt.Sprintf("%s.Policies[%d].Statement[%d]", f.role, i, j)
				for _, g := range statementGrants(st, path, r) {
					got[g] = true
				}
			}
		}
		want := map[grant]bool{}
		for _, g := range wantGrants[f.role] {
			want[g] = true
		}
		for _, g := range sortedGrants(want) {
			if !got[g] {
				r.add("%s: missing %s", f.role, g)
			}
		}
		for _, g := range sortedGrants(got) {
			if !want[g] {
				r.add("%s: allows %s, which is not in its least-privilege set", f.role, g)
			}
		}
	}
}

// statementGrants checks one identity-policy statement and returns what it
// allows.
func statementGrants(st map[string]any, path string, r *report) []grant {
	if str(st["Effect"]) != "Allow" {
		r.add("%s: Effect %v; these policies only allow", path, st["Effect"])
		return nil
	}
	for _, k := range []string{"NotAction", "NotResource", "Principal", "NotPrincipal"} {
		if _, ok := st[k]; ok {
			r.add("%s: %s has no place in a least-privilege identity policy", path, k)
		}
	}
	actions := strs(st["Action"])
	var resources []string
	for _, res := range asListOrOne(st["Resource"]) {
		c := canon(res)
		if strings.Contains(c, "*") && c != secretARN {
			r.add("%s: resource %q has a wildcard", path, c)
		}
		resources = append(resources, c)
	}
	if len(actions) == 0 || len(resources) == 0 {
		r.add("%s: needs Action and Resource", path)
		return nil
	}
	dynamo := slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "dynamodb:") })
	leadingKeys := ""
	if cond, ok := st["Condition"]; ok || dynamo {
		if !dynamo || slices.ContainsFunc(actions, func(a string) bool { return !strings.HasPrefix(a, "dynamodb:") }) {
			r.add("%s: a Condition here is only for DynamoDB statements, and those hold DynamoDB actions only", path)
		}
		leadingKeys = leadingKeysCondition(asMap(cond), path, r)
	}
	var out []grant
	for _, a := range actions {
		if strings.Contains(a, "*") {
			r.add("%s: action %q has a wildcard", path, a)
		}
		for _, res := range resources {
			out = append(out, grant{a, res, leadingKeys})
		}
	}
	return out
}

// leadingKeysCondition checks the one condition DynamoDB statements carry:
// ForAllValues:StringLike on dynamodb:LeadingKeys, with a Null check because
// ForAllValues is true when the key is absent.
func leadingKeysCondition(cond map[string]any, path string, r *report) string {
	like := asMap(cond["ForAllValues:StringLike"])
	null := asMap(cond["Null"])
	keys := strs(like["dynamodb:LeadingKeys"])
	if len(cond) != 2 || len(like) != 1 || len(null) != 1 || len(keys) == 0 || scalar(null["dynamodb:LeadingKeys"]) != "false" {
		r.add("%s: Condition %v; want ForAllValues:StringLike on dynamodb:LeadingKeys and Null dynamodb:LeadingKeys false", path, cond)
		return "unscoped"
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func checkLogGroups(tp *tmpl, r *report) {
	for _, f := range functions {
		p := asMap(asMap(tp.resources[f.logGroup])["Properties"])
		v, ok := p["RetentionInDays"]
		if !ok {
			r.add("%s.RetentionInDays is missing; logs would be kept forever", f.logGroup)
			continue
		}
		if refName(v) != "LogRetentionDays" {
			r.add("%s.RetentionInDays is %v, want !Ref LogRetentionDays", f.logGroup, v)
		}
		values := []string{""}
		if name := refName(v); name != "" {
			if values = strs(asMap(tp.params[name])["AllowedValues"]); values == nil {
				values = []string{scalar(asMap(tp.params[name])["Default"])}
			}
		}
		for _, val := range values {
			days, err := tp.evalInt(v, map[string]string{"LogRetentionDays": val})
			if err != nil || !slices.Contains(logRetentionDays, days) {
				r.add("%s.RetentionInDays %d (%v) is not a CloudWatch Logs retention period", f.logGroup, days, err)
			}
		}
	}
}

func checkOutputs(tp *tmpl, r *report) {
	outputs := asMap(tp.root["Outputs"])
	want := map[string]string{
		"TableName":          "Table",
		"QueueUrl":           "DeliveryQueue",
		"DeadLetterQueueUrl": "DeadLetterQueue",
	}
	for name, res := range want {
		if v := asMap(outputs[name])["Value"]; refName(v) != res {
			r.add("output %s is %v, want !Ref %s", name, v, res)
		}
	}
	api, _ := subText(asMap(outputs["ApiUrl"])["Value"])
	if api != "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" {
		r.add("output ApiUrl is %q, want the HTTP API's default endpoint", api)
	}
	topic := asMap(outputs["AlarmTopicArn"])
	if refName(topic["Value"]) != "AlarmTopic" || str(topic["Condition"]) != "HasAlarmEmail" {
		r.add("output AlarmTopicArn is %v, want !Ref AlarmTopic under Condition HasAlarmEmail", topic)
	}
	for _, name := range sortedKeys(outputs) {
		if _, ok := want[name]; !ok && name != "ApiUrl" && name != "AlarmTopicArn" {
			r.add("output %s is not one of ApiUrl, TableName, QueueUrl, DeadLetterQueueUrl, AlarmTopicArn", name)
		}
	}
}

// checkConditions checks the one condition: HasAlarmEmail holds exactly
// when AlarmEmail is set. Every condition must be used.
func checkConditions(tp *tmpl, r *report) {
	if got := sortedKeys(tp.conditions); !slices.Equal(got, []string{"HasAlarmEmail"}) {
		r.add("conditions %v, want exactly HasAlarmEmail", got)
	}
	for email, want := range map[string]bool{"": false, "ops@example.com": true} {
		got, err := tp.evalCondition(map[string]any{"Condition": "HasAlarmEmail"}, map[string]string{"AlarmEmail": email})
		if err != nil || got != want {
			r.add("HasAlarmEmail with AlarmEmail %q is %v (%v), want %v", email, got, err, want)
		}
	}
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if args := asList(x["Fn::If"]); len(x) == 1 && len(args) == 3 {
				used[str(args[0])] = true
			}
			if c, ok := x["Condition"].(string); ok && len(x) == 1 {
				used[c] = true
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, section := range []string{"Resources", "Outputs"} {
		for _, v := range asMap(tp.root[section]) {
			if c := str(asMap(v)["Condition"]); c != "" {
				used[c] = true
			}
			walk(asMap(v)["Properties"])
			walk(asMap(v)["Value"])
		}
	}
	walk(tp.root["Conditions"])
	for _, name := range sortedKeys(tp.conditions) {
		if !used[name] {
			r.add("condition %s is never used", name)
		}
	}
}

// checkConditionalReferences checks what CloudFormation checks only at
// deploy time: a resource or output that may exist without a conditional
// resource refers to it only inside !If on that resource's condition (in
// the branch where it holds), and does not depend on it.
func checkConditionalReferences(tp *tmpl, r *report) {
	condOf := map[string]string{}
	for name, res := range tp.resources {
		if c := str(asMap(res)["Condition"]); c != "" {
			condOf[name] = c
		}
	}
	var walk func(v any, holds map[string]bool, own, path string)
	target := func(name, own, path string, holds map[string]bool) {
		name, _, _ = strings.Cut(name, ".")
		if c, ok := condOf[name]; ok && c != own && !holds[c] {
			r.add("%s refers to %s, which exists only when %s, outside !If [%s, ...]", path, name, c, c)
		}
	}
	walk = func(v any, holds map[string]bool, own, path string) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				if n := refName(x); n != "" {
					target(n, own, path, holds)
					return
				}
				if args := asList(x["Fn::GetAtt"]); len(args) == 2 {
					target(str(args[0]), own, path, holds)
					return
				}
				if sub, ok := x["Fn::Sub"]; ok {
					text := str(sub)
					if l := asList(sub); len(l) == 2 {
						text = str(l[0])
						walk(l[1], holds, own, path)
					}
					for _, m := range subVariable.FindAllStringSubmatch(text, -1) {
						target(m[1], own, path, holds)
					}
					return
				}
				if args := asList(x["Fn::If"]); len(args) == 3 {
					c := str(args[0])
					yes := maps.Clone(holds)
					if yes == nil {
						yes = map[string]bool{}
					}
					yes[c] = true
					walk(args[1], yes, own, path)
					walk(args[2], holds, own, path)
					return
				}
			}
			for _, k := range sortedKeys(x) {
				walk(x[k], holds, own, path+"."+k)
			}
		case []any:
			for i, e := range x {
				walk(e, holds, own, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	for _, name := range sortedKeys(tp.resources) {
		res := asMap(tp.resources[name])
		own := str(res["Condition"])
		for _, dep := range strs(res["DependsOn"]) {
			if c, ok := condOf[dep]; ok && c != own {
				r.add("%s.DependsOn: %s exists only when %s", name, dep, c)
			}
		}
		walk(res["Properties"], nil, own, name+".Properties")
	}
	outputs := asMap(tp.root["Outputs"])
	for _, name := range sortedKeys(outputs) {
		o := asMap(outputs[name])
		walk(o["Value"], nil, str(o["Condition"]), "Outputs."+name)
	}
}

// alarm is what one alarm must watch and how.
type alarm struct {
	logicalID string
	suffix    string // AlarmName is ${AWS::StackName}-<suffix>
	namespace string
	metric    string
	statistic string
	dimension string // the one dimension's name
	value     string // its value, as canon writes it
	missing   string // TreatMissingData
	// threshold checks the Threshold property.
	threshold func(tp *tmpl, v any, r *report)
}

func zeroThreshold(logicalID string) func(*tmpl, any, *report) {
	return func(tp *tmpl, v any, r *report) {
		if n, err := tp.evalInt(v, nil); err != nil || n != 0 {
			r.add("%s.Threshold is %v, want 0: any one is too many", logicalID, v)
		}
	}
}

func wantAlarms() []alarm {
	out := []alarm{
		{"DeadLetterAlarm", "dead-letters", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
			"QueueName", "DeadLetterQueue.QueueName", "ignore", zeroThreshold("DeadLetterAlarm")},
		{"OldestDeliveryAlarm", "oldest-delivery", "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum",
			"QueueName", "DeliveryQueue.QueueName", "notBreaching", checkAgeThreshold},
	}
	for _, f := range functions {
		out = append(out, alarm{f.errorsAlarm, f.short + "-errors", "AWS/Lambda", "Errors", "Sum",
			"FunctionName", "ref:" + f.logicalID, "notBreaching", zeroThreshold(f.errorsAlarm)})
	}
	return out
}

// checkAgeThreshold: the oldest delivery's age alarm fires at half of
// MaxDeliveryAge, for every value offered, through the mapping
// OldestDeliveryAge; it must stay above the longest back-off (or a
// healthy retry would fire it) and below the delivery queue's retention
// (or the message would be gone before).
func checkAgeThreshold(tp *tmpl, v any, r *report) {
	if args := asList(asMap(v)["Fn::FindInMap"]); len(args) != 3 || str(args[0]) != "OldestDeliveryAge" || refName(args[1]) != "MaxDeliveryAge" {
		r.add("OldestDeliveryAlarm.Threshold is %v, want !FindInMap [OldestDeliveryAge, !Ref MaxDeliveryAge, Seconds]", v)
		return
	}
	retention, err := tp.evalInt(prop(tp.resources["DeliveryQueue"], "MessageRetentionPeriod"), nil)
	if err != nil {
		retention = 4 * 24 * 3600
	}
	for _, age := range strs(asMap(tp.params["MaxDeliveryAge"])["AllowedValues"]) {
		d, err := time.ParseDuration(age)
		if err != nil {
			continue // checkQueue reports it
		}
		n, err := tp.evalInt(v, map[string]string{"MaxDeliveryAge": age})
		want := int((d / 2).Seconds())
		switch {
		case err != nil || n != want:
			r.add("OldestDeliveryAlarm.Threshold for MaxDeliveryAge %s is %d s (%v), want %d s, half of it (mapping OldestDeliveryAge)", age, n, err, want)
		case time.Duration(n)*time.Second <= delivery.MaxDelay:
			r.add("OldestDeliveryAlarm.Threshold for MaxDeliveryAge %s is %d s, within the longest back-off of %s", age, n, delivery.MaxDelay)
		case n >= retention:
			r.add("OldestDeliveryAlarm.Threshold for MaxDeliveryAge %s is %d s, past the delivery queue's retention of %d s", age, n, retention)
		}
	}
}

var (
	alarmProperties = []string{"AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic",
		"Period", "EvaluationPeriods", "DatapointsToAlarm", "ComparisonOperator", "Threshold", "TreatMissingData",
		"AlarmActions", "OKActions"}
	// The actions of every alarm: the topic when AlarmEmail is set, none
	// otherwise.
	wantActions = map[string]any{"Fn::If": []any{"HasAlarmEmail", []any{ref("AlarmTopic")}, ref("AWS::NoValue")}}
)

// checkAlarms compares each alarm with wantAlarms: metric, dimension,
// statistic, threshold, missing data and actions, and checks what
// CloudWatch requires of periods.
func checkAlarms(tp *tmpl, r *report) {
	seen := map[string]bool{}
	for _, a := range wantAlarms() {
		res := asMap(tp.resources[a.logicalID])
		p := asMap(res["Properties"])
		if str(res["Type"]) != "AWS::CloudWatch::Alarm" || p == nil {
			r.add("alarm %s is missing", a.logicalID)
			continue
		}
		seen[a.logicalID] = true
		unknownKeys(p, alarmProperties, a.logicalID+".Properties", r)
		if c := str(res["Condition"]); c != "" {
			r.add("%s.Condition %s: the alarms exist in every stack; only their actions depend on AlarmEmail", a.logicalID, c)
		}
		if name, _ := subText(p["AlarmName"]); name != "${AWS::StackName}-"+a.suffix {
			r.add("%s.AlarmName is %v, want !Sub ${AWS::StackName}-%s", a.logicalID, p["AlarmName"], a.suffix)
		}
		if str(p["AlarmDescription"]) == "" && asMap(p["AlarmDescription"]) == nil {
			r.add("%s.AlarmDescription is missing: say what to do", a.logicalID)
		}
		for key, want := range map[string]string{"Namespace": a.namespace, "MetricName": a.metric, "Statistic": a.statistic,
			"ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": a.missing} {
			if got := str(p[key]); got != want {
				r.add("%s.%s is %q, want %q", a.logicalID, key, got, want)
			}
		}
		dims := asList(p["Dimensions"])
		if d := asMap(first(dims)); len(dims) != 1 || len(d) != 2 || str(d["Name"]) != a.dimension || canon(d["Value"]) != a.value {
			r.add("%s.Dimensions is %v, want exactly %s = %s", a.logicalID, p["Dimensions"], a.dimension, a.value)
		}
		a.threshold(tp, p["Threshold"], r)
		period, err1 := tp.evalInt(p["Period"], nil)
		evals, err2 := tp.evalInt(p["EvaluationPeriods"], nil)
		switch {
		case err1 != nil || err2 != nil:
			r.add("%s: Period %v and EvaluationPeriods %v must be numbers", a.logicalID, p["Period"], p["EvaluationPeriods"])
		case period < 60 || period%60 != 0:
			r.add("%s.Period %d: AWS metrics are per minute; want a multiple of 60", a.logicalID, period)
		case evals < 1 || period*evals > 86400:
			r.add("%s: %d periods of %d s; want at least one, and a day at most", a.logicalID, evals, period)
		}
		if v, ok := p["DatapointsToAlarm"]; ok {
			if n, err := tp.evalInt(v, nil); err != nil || n < 1 || n > evals {
				r.add("%s.DatapointsToAlarm %v: want 1 to EvaluationPeriods", a.logicalID, v)
			}
		}
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if !reflect.DeepEqual(p[key], wantActions) {
				r.add("%s.%s is %v, want !If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]", a.logicalID, key, p[key])
			}
		}
	}
	if d, _ := subText(prop(tp.resources["DeadLetterAlarm"], "AlarmDescription")); !strings.Contains(d, "herald replay --dlq ${DeadLetterQueue}") {
		r.add("DeadLetterAlarm.AlarmDescription does not say how to replay: herald replay --dlq ${DeadLetterQueue}")
	}
	for _, name := range sortedKeys(tp.resources) {
		if str(asMap(tp.resources[name])["Type"]) == "AWS::CloudWatch::Alarm" && !seen[name] {
			r.add("alarm %s is not one this test knows; add it to wantAlarms", name)
		}
	}
}

// checkAlarmTopic checks the topic the alarms notify: created with
// AlarmEmail only, subscribing it, and publishable by this stack's alarms
// and nothing else.
func checkAlarmTopic(tp *tmpl, r *report) {
	topic := asMap(tp.resources["AlarmTopic"])
	policy := asMap(tp.resources["AlarmTopicPolicy"])
	for name, res := range map[string]map[string]any{"AlarmTopic": topic, "AlarmTopicPolicy": policy} {
		if c := str(res["Condition"]); c != "HasAlarmEmail" {
			r.add("%s.Condition is %q, want HasAlarmEmail: without AlarmEmail there is no one to notify", name, c)
		}
	}
	tprops := asMap(topic["Properties"])
	wantSub := []any{map[string]any{"Protocol": "email", "Endpoint": ref("AlarmEmail")}}
	if !reflect.DeepEqual(tprops["Subscription"], wantSub) {
		r.add("AlarmTopic.Subscription is %v, want one email subscription of !Ref AlarmEmail", tprops["Subscription"])
	}
	if k, ok := tprops["KmsMasterKeyId"]; ok {
		r.add("AlarmTopic.KmsMasterKeyId %v: CloudWatch cannot publish to a topic under the AWS managed key, and a customer managed key needs a key policy for it", k)
	}
	pprops := asMap(policy["Properties"])
	if !reflect.DeepEqual(pprops["Topics"], []any{ref("AlarmTopic")}) {
		r.add("AlarmTopicPolicy.Topics is %v, want [!Ref AlarmTopic]", pprops["Topics"])
	}
	const sourceArn = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-*"
	want := map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
		"Action":    "sns:Publish",
		"Resource":  ref("AlarmTopic"),
		"Condition": map[string]any{
			"ArnLike":      map[string]any{"aws:SourceArn": map[string]any{"Fn::Sub": sourceArn}},
			"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")},
		},
	}
	sts := statements(asMap(pprops["PolicyDocument"]))
	var got map[string]any
	if len(sts) == 1 {
		got = maps.Clone(sts[0])
		delete(got, "Sid")
	}
	if !reflect.DeepEqual(got, want) {
		r.add("AlarmTopicPolicy: statements %v; want exactly one letting cloudwatch.amazonaws.com publish for this stack's alarms (%s) in this account", sts, sourceArn)
	}
	// The policy admits alarms by name: every alarm's must match its
	// pattern, ${AWS::StackName}-*.
	pattern := sourceArn
	if len(sts) == 1 {
		if arn, ok := subText(asMap(asMap(sts[0]["Condition"])["ArnLike"])["aws:SourceArn"]); ok {
			pattern = arn
		}
	}
	_, prefix, _ := strings.Cut(pattern, ":alarm:")
	prefix = strings.TrimSuffix(prefix, "*")
	for _, name := range sortedKeys(tp.resources) {
		if str(asMap(tp.resources[name])["Type"]) != "AWS::CloudWatch::Alarm" {
			continue
		}
		if n, _ := subText(prop(tp.resources[name], "AlarmName")); !strings.HasPrefix(n, prefix) {
			r.add("%s.AlarmName %v does not start with %s: AlarmTopicPolicy would refuse its notifications", name, prop(tp.resources[name], "AlarmName"), prefix)
		}
	}
}

var readmeParamRow = regexp.MustCompile("^\\| `([A-Za-z]+)` \\| ([^|]*) \\|")

// checkParameterDocs checks deploy/README.md's parameter table (the one
// headed "| parameter | default |"): a row for every parameter, with its
// default (`value`, or "empty").
func checkParameterDocs(tp *tmpl, r *report) {
	rows := map[string]string{}
	in := false
	for _, l := range strings.Split(tp.readme, "\n") {
		switch {
		case strings.HasPrefix(l, "| parameter | default |"):
			in = true
		case !strings.HasPrefix(l, "|"):
			in = false
		case in:
			if m := readmeParamRow.FindStringSubmatch(l); m != nil {
				rows[m[1]] = strings.TrimSpace(m[2])
			}
		}
	}
	if len(rows) == 0 {
		r.add("deploy/README.md: found no parameter table (a table headed \"| parameter | default |\")")
	}
	for _, name := range sortedKeys(tp.params) {
		want := "`" + scalar(asMap(tp.params[name])["Default"]) + "`"
		if want == "``" {
			want = "empty"
		}
		got, ok := rows[name]
		switch {
		case !ok:
			r.add("deploy/README.md: the parameter table has no row for %s", name)
		case got != want:
			r.add("deploy/README.md: %s's default is %s there, %s in the template", name, got, want)
		}
	}
	for _, name := range sortedKeys(rows) {
		if _, ok := tp.params[name]; !ok {
			r.add("deploy/README.md documents a parameter %s the template does not have", name)
		}
	}
}

// evalCondition evaluates a condition expression: !Equals, !Not, !And,
// !Or and {Condition: name}, over parameters as eval reads them.
func (tp *tmpl) evalCondition(v any, override map[string]string) (bool, error) {
	x := asMap(v)
	if len(x) != 1 {
		return false, fmt.Errorf("cannot evaluate condition %v", v)
	}
	if name, ok := x["Condition"].(string); ok {
		c, ok := tp.conditions[name]
		if !ok {
			return false, fmt.Errorf("no condition %s", name)
		}
		return tp.evalCondition(c, override)
	}
	for fn, arg := range x {
		args := asList(arg)
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("!Equals takes two values")
			}
			a, err := tp.eval(args[0], override)
			if err != nil {
				return false, err
			}
			b, err := tp.eval(args[1], override)
			return a == b, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("!Not takes one condition")
			}
			c, err := tp.evalCondition(args[0], override)
			return !c, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				c, err := tp.evalCondition(a, override)
				if err != nil {
					return false, err
				}
				if c != and {
					return c, nil
				}
			}
			return and, nil
		}
	}
	return false, fmt.Errorf("cannot evaluate condition %v", v)
}

func first(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

// ------------------------------------------------------------ evaluation

// eval computes a scalar from literals, !Ref to parameters (their default,
// or the value in override) and !FindInMap.
func (tp *tmpl) eval(v any, override map[string]string) (string, error) {
	switch x := v.(type) {
	case string, int, float64, bool:
		return scalar(x), nil
	case map[string]any:
		if name := refName(x); name != "" {
			if val, ok := override[name]; ok {
				return val, nil
			}
			p, ok := tp.params[name]
			if !ok {
				return "", fmt.Errorf("!Ref %s is no parameter", name)
			}
			return scalar(asMap(p)["Default"]), nil
		}
		if args := asList(x["Fn::FindInMap"]); len(args) == 3 {
			var keys [3]string
			for i, a := range args {
				k, err := tp.eval(a, override)
				if err != nil {
					return "", err
				}
				keys[i] = k
			}
			val, ok := asMap(asMap(tp.mappings[keys[0]])[keys[1]])[keys[2]]
			if !ok {
				return "", fmt.Errorf("mapping %s has no %s.%s", keys[0], keys[1], keys[2])
			}
			return tp.eval(val, override)
		}
	}
	return "", fmt.Errorf("cannot evaluate %v", v)
}

func (tp *tmpl) evalInt(v any, override map[string]string) (int, error) {
	s, err := tp.eval(v, override)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// ------------------------------------------------------------ YAML

// parseYAML reads a CloudFormation YAML template into plain data, turning
// the short forms (!Ref, !GetAtt, !Sub, ...) into their long forms and
// rejecting duplicate keys.
func parseYAML(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	v, err := decodeNode(&doc)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the template is not a mapping")
	}
	return m, nil
}

func decodeNode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return decodeNode(n.Content[0])
	case yaml.AliasNode:
		return decodeNode(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return decodeShortForm(n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key that is not a scalar", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := decodeNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := decodeNode(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	default:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
}

func decodeShortForm(n *yaml.Node) (any, error) {
	name := strings.TrimPrefix(n.Tag, "!")
	plain := *n
	plain.Tag = ""
	arg, err := decodeNode(&plain)
	if err != nil {
		return nil, err
	}
	switch name {
	case "Ref", "Condition":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("line %d: !%s takes a name", n.Line, name)
		}
		return map[string]any{name: s}, nil
	case "GetAtt":
		if s, ok := arg.(string); ok {
			res, attr, ok := strings.Cut(s, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %s is not Resource.Attribute", n.Line, s)
			}
			arg = []any{res, attr}
		}
		return map[string]any{"Fn::GetAtt": arg}, nil
	case "Sub", "Join", "Select", "Split", "FindInMap", "If", "Equals", "Not", "And", "Or", "Base64",
		"GetAZs", "ImportValue", "Cidr", "Length", "ToJsonString", "Transform":
		return map[string]any{"Fn::" + name: arg}, nil
	}
	return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
}

// ------------------------------------------------------------ helpers

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asList(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string           { s, _ := v.(string); return s }

func asListOrOne(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// prop is a resource's property.
func prop(resource any, name string) any { return asMap(asMap(resource)["Properties"])[name] }

// strs reads a string or a list of scalars; nil when v is neither.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			switch e.(type) {
			case string, int, float64, bool:
				out = append(out, scalar(e))
			default:
				return nil
			}
		}
		return out
	}
	return nil
}

// scalar prints a YAML scalar as CloudFormation would pass it on: a string.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func number(v any) float64 {
	f, _ := strconv.ParseFloat(scalar(v), 64)
	return f
}

func refName(v any) string {
	if m := asMap(v); len(m) == 1 {
		return str(m["Ref"])
	}
	return ""
}

func getAttName(v any) string {
	if m := asMap(v); len(m) == 1 {
		if l := asList(m["Fn::GetAtt"]); len(l) == 2 {
			return str(l[0]) + "." + str(l[1])
		}
	}
	return ""
}

// subText is the text of a !Sub without variables, or a literal string.
func subText(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	if m := asMap(v); len(m) == 1 {
		if s, ok := m["Fn::Sub"].(string); ok {
			return s, true
		}
	}
	return "", false
}

// canon writes a policy resource for comparison: "Res.Attr" for !GetAtt,
// "ref:X" for !Ref, "sub:text" for !Sub, literals as they are.
func canon(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if g := getAttName(v); g != "" {
		return g
	}
	if n := refName(v); n != "" {
		return "ref:" + n
	}
	if m := asMap(v); len(m) == 1 {
		if s, ok := m["Fn::Sub"].(string); ok {
			return "sub:" + s
		}
	}
	return fmt.Sprint(v)
}

// statements returns a policy document's statements (one or a list).
func statements(doc map[string]any) []map[string]any {
	var out []map[string]any
	for _, s := range asListOrOne(doc["Statement"]) {
		out = append(out, asMap(s))
	}
	return out
}

// section returns the lines of a markdown section up to the next heading of
// the same level.
func section(md, heading string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "## ") {
			in = strings.HasPrefix(l, heading)
			continue
		}
		if in {
			out = append(out, l)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func sortedGrants(m map[grant]bool) []grant {
	out := make([]grant, 0, len(m))
	for g := range m {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
