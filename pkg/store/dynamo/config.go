package dynamo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/api"
)

const (
	configPK = "config"
	// allClusters stands for "no herald.io/cluster label" in sort keys and in
	// the cluster attributes of config and hook items.
	allClusters = "*"
	hookPrefix  = "hook#"
	hookSK      = "receiver"

	// maxWriteAttempts bounds the read-compare-write loops that lose to
	// concurrent writers of the same object.
	maxWriteAttempts = 5
)

// Change says what PutObject did, in kubectl apply's words.
type Change string

// Changes.
const (
	Created    Change = "created"
	Configured Change = "configured"
	Unchanged  Change = "unchanged"
)

// Ref names a config object within its kind. Cluster is the value of its
// herald.io/cluster label, "" for an object of every cluster.
type Ref struct {
	Cluster   string
	Namespace string
	Name      string
}

func (r Ref) String() string {
	c := r.Cluster
	if c == "" {
		c = allClusters
	}
	return c + ":" + r.Namespace + "/" + r.Name
}

// Object is a stored config object.
type Object struct {
	Kind       string
	APIVersion string
	Ref
	// Generation counts the changes of the object's document.
	Generation int64
	UpdatedAt  time.Time
	// HookDigest is a Receiver's webhook digest, "" until one is set.
	HookDigest string
	// Value is the object: an api.Provider, api.Alert or api.Receiver.
	Value any
}

// ErrDigestInUse is returned when a hook digest already points at another
// Receiver: two Receivers of the same namespace and name (in two clusters)
// share a token. Give one of them another token.
var ErrDigestInUse = errors.New("hook digest already belongs to another Receiver")

// ErrNotFound is returned when an object to change does not exist.
var ErrNotFound = errors.New("not found")

// object is a config object ready to store.
type object struct {
	kind, apiVersion string
	ref              Ref
	doc              string
}

func (o object) sk() string { return configSK(o.kind, o.ref) }

func configSK(kind string, r Ref) string {
	c := r.Cluster
	if c == "" {
		c = allClusters
	}
	return kind + "#" + c + "#" + r.Namespace + "#" + r.Name
}

func hookPK(digest string) string { return hookPrefix + digest }

// shortDigest names a hook item in errors without spelling out the webhook
// path.
func shortDigest(digest string) string {
	if len(digest) > 8 {
		return digest[:8] + "…"
	}
	return digest
}

func checkRef(kind string, r Ref) error {
	if r.Namespace == "" || r.Name == "" {
		return fmt.Errorf("%s %s: namespace and name are required", kind, r)
	}
	for _, part := range []string{r.Cluster, r.Namespace, r.Name} {
		if strings.Contains(part, "#") || part == allClusters {
			return fmt.Errorf("%s %s: %q may not be used in a cluster, namespace or name", kind, r, part)
		}
	}
	return nil
}

func checkDigest(digest string) error {
	if digest == "" || len(digest) > 128 {
		return errors.New("hook digest must be 1 to 128 hex digits")
	}
	if _, err := hex.DecodeString(digest); err != nil || strings.ToLower(digest) != digest {
		return errors.New("hook digest must be lowercase hex")
	}
	return nil
}

// toObject accepts the config kinds stored in DynamoDB, by value or pointer.
// Secrets are refused: they live in Secrets Manager only.
func toObject(obj any) (object, error) {
	var (
		tm   *api.TypeMeta
		meta api.ObjectMeta
		kind string
		v    any
	)
	switch o := obj.(type) {
	case api.Provider:
		tm, meta, kind, v = &o.TypeMeta, o.Metadata, api.KindProvider, &o
	case *api.Provider:
		c := *o
		tm, meta, kind, v = &c.TypeMeta, c.Metadata, api.KindProvider, &c
	case api.Alert:
		tm, meta, kind, v = &o.TypeMeta, o.Metadata, api.KindAlert, &o
	case *api.Alert:
		c := *o
		tm, meta, kind, v = &c.TypeMeta, c.Metadata, api.KindAlert, &c
	case api.Receiver:
		tm, meta, kind, v = &o.TypeMeta, o.Metadata, api.KindReceiver, &o
	case *api.Receiver:
		c := *o
		tm, meta, kind, v = &c.TypeMeta, c.Metadata, api.KindReceiver, &c
	case api.Secret, *api.Secret:
		return object{}, errors.New("secrets are never stored in DynamoDB; they belong in Secrets Manager")
	default:
		return object{}, fmt.Errorf("cannot store a %T: only Provider, Alert and Receiver are config objects", obj)
	}
	if tm.Kind == "" {
		tm.Kind = kind
	}
	ref := Ref{Cluster: meta.Cluster(), Namespace: meta.Namespace, Name: meta.Name}
	if tm.Kind != kind {
		return object{}, fmt.Errorf("%s %s: kind is %q", kind, ref, tm.Kind)
	}
	if tm.APIVersion == "" {
		return object{}, fmt.Errorf("%s %s: apiVersion is required", kind, ref)
	}
	if err := checkRef(kind, ref); err != nil {
		return object{}, err
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return object{}, fmt.Errorf("%s %s: encoding: %w", kind, ref, err)
	}
	return object{kind: kind, apiVersion: tm.APIVersion, ref: ref, doc: string(doc)}, nil
}

// storedConfig is what a write needs to know of the current item.
type storedConfig struct {
	exists     bool
	doc        string
	generation int64
	digest     string
}

func (s *Store) getConfig(ctx context.Context, sk string) (storedConfig, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(configPK, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return storedConfig{}, opError("GetItem", configPK, sk, err)
	}
	if out.Item == nil {
		return storedConfig{}, nil
	}
	gen, _ := getN(out.Item, attrGeneration)
	return storedConfig{exists: true, doc: getS(out.Item, attrDoc), generation: gen, digest: getS(out.Item, attrDigest)}, nil
}

// PutObject stores a Provider, Alert or Receiver (value or pointer) like
// `kubectl apply`: created when new, configured when its document changed,
// unchanged otherwise, which makes no write. A Receiver keeps the hook
// digest it has; PutReceiver sets one.
func (s *Store) PutObject(ctx context.Context, obj any) (Change, error) {
	o, err := toObject(obj)
	if err != nil {
		return "", err
	}
	return s.put(ctx, o, nil)
}

// PutReceiver stores a Receiver and the hook item of its digest (hex
// sha256(token + name + namespace)) in one transaction, removing the hook
// item of a previous digest. A digest change alone counts as configured.
func (s *Store) PutReceiver(ctx context.Context, r api.Receiver, digest string) (Change, error) {
	if err := checkDigest(digest); err != nil {
		return "", err
	}
	o, err := toObject(r)
	if err != nil {
		return "", err
	}
	return s.put(ctx, o, &digest)
}

// PutReceiverDigest points the hook item of digest at the stored Receiver
// ref, as PutReceiver does without changing the Receiver's document. It
// fails with ErrNotFound when the Receiver is not stored.
func (s *Store) PutReceiverDigest(ctx context.Context, digest string, ref Ref) error {
	if err := checkDigest(digest); err != nil {
		return err
	}
	if err := checkRef(api.KindReceiver, ref); err != nil {
		return err
	}
	sk := configSK(api.KindReceiver, ref)
	for range maxWriteAttempts {
		cur, err := s.getConfig(ctx, sk)
		if err != nil {
			return err
		}
		if !cur.exists {
			return fmt.Errorf("receiver %s: %w", ref, ErrNotFound)
		}
		if cur.digest == digest {
			return nil
		}
		cond, names, values := unchangedSince(cur,
			map[string]string{"#digest": attrDigest, "#updatedAt": attrUpdatedAt},
			map[string]types.AttributeValue{
				":digest":    str(digest),
				":updatedAt": str(s.now().UTC().Format(time.RFC3339)),
			})
		update := types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       itemKey(configPK, sk),
			UpdateExpression:          aws.String("SET #digest = :digest, #updatedAt = :updatedAt"),
			ConditionExpression:       cond,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}}
		retry, err := s.writeWithHooks(ctx, update, api.KindReceiver, ref, cur.digest, digest)
		if err != nil {
			return err
		}
		if !retry {
			return nil
		}
	}
	return opError("TransactWriteItems", configPK, sk, ErrConflict)
}

func (s *Store) put(ctx context.Context, o object, digest *string) (Change, error) {
	sk := o.sk()
	for range maxWriteAttempts {
		cur, err := s.getConfig(ctx, sk)
		if err != nil {
			return "", err
		}
		newDigest := cur.digest
		if digest != nil {
			newDigest = *digest
		}
		docChanged := !cur.exists || cur.doc != o.doc
		if !docChanged && newDigest == cur.digest {
			return Unchanged, nil
		}
		gen := cur.generation
		if docChanged {
			gen++
		}
		item := map[string]types.AttributeValue{
			attrPK:         str(configPK),
			attrSK:         str(sk),
			attrKind:       str(o.kind),
			attrAPIVersion: str(o.apiVersion),
			attrCluster:    str(clusterAttr(o.ref.Cluster)),
			attrNamespace:  str(o.ref.Namespace),
			attrName:       str(o.ref.Name),
			attrDoc:        str(o.doc),
			attrGeneration: num(gen),
			attrUpdatedAt:  str(s.now().UTC().Format(time.RFC3339)),
		}
		if newDigest != "" {
			item[attrDigest] = str(newDigest)
		}
		cond, names, values := unchangedSince(cur, nil, nil)
		put := &types.Put{
			TableName:                 aws.String(s.table),
			Item:                      item,
			ConditionExpression:       cond,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}
		retry := false
		if newDigest == cur.digest {
			_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                 put.TableName,
				Item:                      put.Item,
				ConditionExpression:       put.ConditionExpression,
				ExpressionAttributeNames:  put.ExpressionAttributeNames,
				ExpressionAttributeValues: put.ExpressionAttributeValues,
			})
			if _, ok := conditionFailed(err); ok {
				retry = true
			} else if err != nil {
				return "", opError("PutItem", configPK, sk, err)
			}
		} else {
			retry, err = s.writeWithHooks(ctx, types.TransactWriteItem{Put: put}, o.kind, o.ref, cur.digest, newDigest)
			if err != nil {
				return "", err
			}
		}
		if retry {
			continue
		}
		if !cur.exists {
			return Created, nil
		}
		return Configured, nil
	}
	return "", opError("PutItem", configPK, sk, ErrConflict)
}

// unchangedSince is the condition that the config item is as cur saw it,
// with the names and values it uses. extraNames and extraValues are merged
// in for the other expressions of the same request.
func unchangedSince(cur storedConfig, extraNames map[string]string, extraValues map[string]types.AttributeValue) (*string, map[string]string, map[string]types.AttributeValue) {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var cond string
	switch {
	case !cur.exists:
		cond = "attribute_not_exists(#pk)"
		names["#pk"] = attrPK
	case cur.digest == "":
		cond = "#generation = :generation AND attribute_not_exists(#digest)"
		names["#generation"], names["#digest"] = attrGeneration, attrDigest
		values[":generation"] = num(cur.generation)
	default:
		cond = "#generation = :generation AND #digest = :oldDigest"
		names["#generation"], names["#digest"] = attrGeneration, attrDigest
		values[":generation"] = num(cur.generation)
		values[":oldDigest"] = str(cur.digest)
	}
	for k, v := range extraNames {
		names[k] = v
	}
	for k, v := range extraValues {
		values[k] = v
	}
	if len(values) == 0 {
		values = nil
	}
	return aws.String(cond), names, values
}

func clusterAttr(cluster string) string {
	if cluster == "" {
		return allClusters
	}
	return cluster
}

func clusterOf(attr string) string {
	if attr == allClusters {
		return ""
	}
	return attr
}

// pointsAt is the condition that a hook item belongs to the Receiver ref,
// with names #c, #ns, #n and values :c, :ns, :n.
const pointsAt = "#c = :c AND #ns = :ns AND #n = :n"

func pointsAtValues(ref Ref) (map[string]string, map[string]types.AttributeValue) {
	return map[string]string{"#c": attrCluster, "#ns": attrNamespace, "#n": attrName},
		map[string]types.AttributeValue{":c": str(clusterAttr(ref.Cluster)), ":ns": str(ref.Namespace), ":n": str(ref.Name)}
}

// writeWithHooks writes the config item change (first action) together with
// the hook item of newDigest and the removal of the hook item of oldDigest.
// It reports retry when the config item changed since it was read.
func (s *Store) writeWithHooks(ctx context.Context, config types.TransactWriteItem, kind string, ref Ref, oldDigest, newDigest string) (retry bool, err error) {
	sk := configSK(kind, ref)
	actions := []types.TransactWriteItem{config}
	names, values := pointsAtValues(ref)
	hookAt := -1
	if newDigest != "" {
		n, v := pointsAtValues(ref)
		n["#pk"] = attrPK
		hookAt = len(actions)
		actions = append(actions, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: map[string]types.AttributeValue{
				attrPK:        str(hookPK(newDigest)),
				attrSK:        str(hookSK),
				attrCluster:   v[":c"],
				attrNamespace: v[":ns"],
				attrName:      v[":n"],
			},
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR (" + pointsAt + ")"),
			ExpressionAttributeNames:  n,
			ExpressionAttributeValues: v,
		}})
	}
	if oldDigest != "" && oldDigest != newDigest {
		// A hook item that points at another Receiver is not ours to remove.
		mine, err := s.hookPointsAt(ctx, oldDigest, ref)
		if err != nil {
			return false, err
		}
		if mine {
			actions = append(actions, types.TransactWriteItem{Delete: &types.Delete{
				TableName:                 aws.String(s.table),
				Key:                       itemKey(hookPK(oldDigest), hookSK),
				ConditionExpression:       aws.String(pointsAt),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
			}})
		}
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions})
	if err == nil {
		return false, nil
	}
	codes, ok := cancellation(err)
	if !ok {
		return false, opError("TransactWriteItems", configPK, sk, err)
	}
	for i, code := range codes {
		switch {
		case code == string(types.BatchStatementErrorCodeEnumTransactionConflict):
			return true, nil
		case code == string(types.BatchStatementErrorCodeEnumConditionalCheckFailed) && i == hookAt:
			return false, fmt.Errorf("receiver %s: hook %s: %w", ref, shortDigest(newDigest), ErrDigestInUse)
		case code == string(types.BatchStatementErrorCodeEnumConditionalCheckFailed):
			// The config item, or the old hook item, changed since it was
			// read: read again.
			return true, nil
		}
	}
	return false, opError("TransactWriteItems", configPK, sk, err)
}

func (s *Store) hookPointsAt(ctx context.Context, digest string, ref Ref) (bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(hookPK(digest), hookSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, opError("GetItem", hookPK(shortDigest(digest)), hookSK, err)
	}
	return out.Item != nil &&
		getS(out.Item, attrCluster) == clusterAttr(ref.Cluster) &&
		getS(out.Item, attrNamespace) == ref.Namespace &&
		getS(out.Item, attrName) == ref.Name, nil
}

// DeleteObject removes a config object, and a Receiver's hook item with it.
// It reports whether the object existed. cluster "" names an object without
// the herald.io/cluster label.
func (s *Store) DeleteObject(ctx context.Context, kind, cluster, namespace, name string) (bool, error) {
	switch kind {
	case api.KindProvider, api.KindAlert, api.KindReceiver:
	default:
		return false, fmt.Errorf("cannot delete a %q: only Provider, Alert and Receiver are stored", kind)
	}
	ref := Ref{Cluster: cluster, Namespace: namespace, Name: name}
	if err := checkRef(kind, ref); err != nil {
		return false, err
	}
	sk := configSK(kind, ref)
	for range maxWriteAttempts {
		cur, err := s.getConfig(ctx, sk)
		if err != nil {
			return false, err
		}
		if !cur.exists {
			return false, nil
		}
		cond, names, values := unchangedSince(cur, nil, nil)
		del := &types.Delete{
			TableName:                 aws.String(s.table),
			Key:                       itemKey(configPK, sk),
			ConditionExpression:       cond,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}
		if cur.digest == "" {
			_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                 del.TableName,
				Key:                       del.Key,
				ConditionExpression:       del.ConditionExpression,
				ExpressionAttributeNames:  del.ExpressionAttributeNames,
				ExpressionAttributeValues: del.ExpressionAttributeValues,
			})
			if _, ok := conditionFailed(err); ok {
				continue
			}
			if err != nil {
				return false, opError("DeleteItem", configPK, sk, err)
			}
			return true, nil
		}
		retry, err := s.writeWithHooks(ctx, types.TransactWriteItem{Delete: del}, kind, ref, cur.digest, "")
		if err != nil {
			return false, err
		}
		if !retry {
			return true, nil
		}
	}
	return false, opError("DeleteItem", configPK, sk, ErrConflict)
}

// ReceiverByDigest finds the Receiver whose webhook path is /hook/<digest>.
// It costs two reads: the hook item, then the Receiver it points at. A hook
// item whose Receiver is gone or has another digest is not a match.
func (s *Store) ReceiverByDigest(ctx context.Context, digest string) (api.Receiver, bool, error) {
	if checkDigest(digest) != nil {
		return api.Receiver{}, false, nil
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(hookPK(digest), hookSK),
	})
	if err != nil {
		return api.Receiver{}, false, opError("GetItem", hookPK(shortDigest(digest)), hookSK, err)
	}
	if out.Item == nil {
		return api.Receiver{}, false, nil
	}
	ref := Ref{
		Cluster:   clusterOf(getS(out.Item, attrCluster)),
		Namespace: getS(out.Item, attrNamespace),
		Name:      getS(out.Item, attrName),
	}
	sk := configSK(api.KindReceiver, ref)
	out, err = s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(configPK, sk),
	})
	if err != nil {
		return api.Receiver{}, false, opError("GetItem", configPK, sk, err)
	}
	if out.Item == nil || getS(out.Item, attrDigest) != digest {
		return api.Receiver{}, false, nil
	}
	obj, err := s.decode(out.Item)
	if err != nil {
		return api.Receiver{}, false, err
	}
	r, ok := obj.Value.(api.Receiver)
	if !ok {
		return api.Receiver{}, false, fmt.Errorf("item pk=%q sk=%q holds a %s", configPK, sk, obj.Kind)
	}
	return r, true, nil
}

// decode turns a config item into an Object. Errors name the item, never
// its document.
func (s *Store) decode(item map[string]types.AttributeValue) (Object, error) {
	sk := getS(item, attrSK)
	gen, _ := getN(item, attrGeneration)
	updated, _ := time.Parse(time.RFC3339, getS(item, attrUpdatedAt))
	obj := Object{
		Kind:       getS(item, attrKind),
		APIVersion: getS(item, attrAPIVersion),
		Ref: Ref{
			Cluster:   clusterOf(getS(item, attrCluster)),
			Namespace: getS(item, attrNamespace),
			Name:      getS(item, attrName),
		},
		Generation: gen,
		UpdatedAt:  updated,
		HookDigest: getS(item, attrDigest),
	}
	src := api.Source{File: "dynamodb:" + s.table + "/" + sk}
	doc := []byte(getS(item, attrDoc))
	var err error
	switch obj.Kind {
	case api.KindProvider:
		var v api.Provider
		err = json.Unmarshal(doc, &v)
		v.Source = src
		obj.Value = v
	case api.KindAlert:
		var v api.Alert
		err = json.Unmarshal(doc, &v)
		v.Source = src
		obj.Value = v
	case api.KindReceiver:
		var v api.Receiver
		err = json.Unmarshal(doc, &v)
		v.Source = src
		obj.Value = v
	default:
		return obj, fmt.Errorf("item pk=%q sk=%q: unknown kind %q", configPK, sk, obj.Kind)
	}
	if err != nil {
		return obj, fmt.Errorf("item pk=%q sk=%q: decoding its document: %w", configPK, sk, redactJSONError(err))
	}
	return obj, nil
}

// redactJSONError keeps a decoding error's position and type information
// and drops anything quoted from the document.
func redactJSONError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at offset %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("field %s: cannot decode a JSON %s into %s", typ.Field, typ.Value, typ.Type)
	}
	return errors.New("invalid document")
}

// queryConfig calls fn with every config item whose sort key starts with
// prefix, page by page. It returns the number of pages read.
func (s *Store) queryConfig(ctx context.Context, prefix, namespace string, fn func(map[string]types.AttributeValue) error) (int, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(configPK)},
	}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND begins_with(#sk, :prefix)")
		in.ExpressionAttributeNames["#sk"] = attrSK
		in.ExpressionAttributeValues[":prefix"] = str(prefix)
	}
	if namespace != "" {
		in.FilterExpression = aws.String("#ns = :ns")
		in.ExpressionAttributeNames["#ns"] = attrNamespace
		in.ExpressionAttributeValues[":ns"] = str(namespace)
	}
	pages := 0
	p := dynamodb.NewQueryPaginator(s.client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return pages, opError("Query", configPK, prefix+"*", err)
		}
		pages++
		for _, item := range out.Items {
			if err := fn(item); err != nil {
				return pages, err
			}
		}
	}
	return pages, nil
}

// ListObjects returns the stored objects of kind ("" for every kind) in
// namespace ("" for every namespace), ordered by kind, cluster, namespace
// and name.
func (s *Store) ListObjects(ctx context.Context, kind, namespace string) ([]Object, error) {
	prefix := ""
	if kind != "" {
		prefix = kind + "#"
	}
	var objs []Object
	_, err := s.queryConfig(ctx, prefix, namespace, func(item map[string]types.AttributeValue) error {
		obj, err := s.decode(item)
		if err != nil {
			return err
		}
		objs = append(objs, obj)
		return nil
	})
	return objs, err
}

// LoadConfig reads every config object with one paginated Query of the
// config partition; pages counts the Query pages. Secrets are not in the
// table, so cfg.Secrets is empty. Items of kinds this version does not know
// are skipped. It implements config.Loader.
func (s *Store) LoadConfig(ctx context.Context) (cfg *api.Config, pages int, err error) {
	cfg = &api.Config{}
	pages, err = s.queryConfig(ctx, "", "", func(item map[string]types.AttributeValue) error {
		switch getS(item, attrKind) {
		case api.KindProvider, api.KindAlert, api.KindReceiver:
		default:
			s.opts.Logger.Warn("skipping a config item of an unknown kind", "table", s.table,
				"sk", getS(item, attrSK), "kind", getS(item, attrKind))
			return nil
		}
		obj, err := s.decode(item)
		if err != nil {
			return err
		}
		switch v := obj.Value.(type) {
		case api.Provider:
			cfg.Providers = append(cfg.Providers, v)
		case api.Alert:
			cfg.Alerts = append(cfg.Alerts, v)
		case api.Receiver:
			cfg.Receivers = append(cfg.Receivers, v)
		}
		return nil
	})
	if err != nil {
		return nil, pages, err
	}
	return cfg, pages, nil
}
