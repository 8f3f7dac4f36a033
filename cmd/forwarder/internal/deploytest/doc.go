// Package deploytest holds the tests of the forwarder's Kubernetes
// manifests in deploy/forwarder: they are rendered with kustomize's own
// library, as `kubectl apply -k` and Flux's kustomize-controller render
// them, and checked against what the forwarder's code expects.
package deploytest
