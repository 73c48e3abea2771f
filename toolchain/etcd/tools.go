//go:build tools

// Package tools pins etcd's and etcdctl's main packages so `go mod tidy`
// keeps their whole dependency graph in go.sum.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
