/* endpoints.c - the table behind endpoints.h. */
#include "http/endpoints.h"

const struct http_endpoint http_endpoints[] = {
    {"/metrics", "Prometheus metrics: gpuscope_* and dcgm-exporter's DCGM_FI_* names"},
    {"/health", "200 \"OK\" while the agent serves (dcgm-exporter's probe endpoint)"},
    {"/healthz", "200 while no GPU is lost, stalled or failing, else 503; JSON says why"},
    {"/api/v1/gpus", "JSON: every GPU's identity, health and metrics, and why any is absent"},
    {"/api/v1/processes", "JSON: each GPU's processes, who runs them, memory, SM and CPU use"},
    {"/api/v1/workloads", "JSON: processes grouped by workload; tensor-parallel groups"},
    {"/api/v1/servers", "JSON: inference servers on the node, tokens/s, J/token, cost/token"},
    {"/api/v1/advice", "JSON: batch-size advice and serving verdicts per inference server"},
    {"/api/v1/series", "JSON: history for charts (?range=15m|1h|24h|7d&gpu=N): mean, min, max"},
    {"/api/v1/inference", "JSON: per-inference latency p50/p95/p99, rate, GPU time, energy, cost"},
    {"/api/v1/diagnosis", "JSON: verdicts over recent history, with evidence and fixes"},
    {"/api/v1/alerts", "JSON: pending and firing alerts (Prometheus' format), rules, receivers"},
    {"/",
     "HTML: the dashboard: GPUs, live and history charts, verdicts, processes (?plain: no script)"},
};

const size_t http_endpoint_count = sizeof(http_endpoints) / sizeof(http_endpoints[0]);
