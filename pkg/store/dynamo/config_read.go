package dynamo

// This file holds the reads of config items: listing, decoding and the
// whole-config Query that config.Cached serves from.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/api"
)

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
