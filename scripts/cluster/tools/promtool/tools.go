//go:build tools

// Package tools pins the commands built from github.com/prometheus/prometheus.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
