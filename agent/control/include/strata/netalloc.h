/* netalloc.h: the addresses the cluster hands out (issue 11): each node's
 * pod CIDR, each Service's cluster IP, node ports and load balancer
 * address. The ranges are fixed here, once. The pickers are pure (they
 * decide from the objects given); the st_control_* functions read the store
 * and write what they picked, so no two objects ever hold one address and
 * an address is free again once its object is gone. */
#ifndef STRATA_NETALLOC_H
#define STRATA_NETALLOC_H

#include <stdbool.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/store.h"

/* Pods: node k gets 10.244.k.0/24 (k = 1..255); the guest's bridge is .1. */
#define ST_NET_CLUSTER_CIDR "10.244.0.0/16"
/* Services' cluster IPs: 10.96.0.10 and up (the first ten are kept back,
 * as Kubernetes keeps .1 and .10 for its own Services). */
#define ST_NET_SERVICE_CIDR     "10.96.0.0/16"
#define ST_NET_SERVICE_IP_FIRST "10.96.0.10"
/* Load balancer addresses: loopback addresses the host's proxy listens on
 * (one per Service, so each can use port 80). */
#define ST_NET_LB_FIRST "127.1.0.1"
#define ST_NET_LB_LAST  "127.1.255.254"
/* Kubernetes' default node port range, listened on 127.0.0.1. */
#define ST_NET_NODE_PORT_MIN 30000
#define ST_NET_NODE_PORT_MAX 32767

/* "10.244.255.0/24" and a NUL. */
#define ST_NET_CIDR_LEN 19

/* The first pod CIDR no Node of nodes (a JSON array of Nodes) holds in
 * spec.podCIDR. -ENOSPC when all 255 are taken. */
int st_netalloc_pod_cidr(json_t *nodes, char out[ST_NET_CIDR_LEN], st_error *err);

/* Whether ip (dotted IPv4) lies in cidr ("10.244.3.0/24"). */
bool st_netalloc_cidr_contains(const char *cidr, const char *ip);

/* Gives svc (a v1 Service) what its type needs, keeping what it holds when
 * that is still its own: spec.clusterIP and spec.clusterIPs; spec.ports[].
 * nodePort for NodePort and LoadBalancer (removed for ClusterIP);
 * status.loadBalancer.ingress[0].ip for LoadBalancer (removed otherwise).
 * others: the other Services (an entry with svc's namespace and name is
 * skipped). Returns 1 when svc changed, 0 when not; -EINVAL for a clusterIP
 * outside the service CIDR, -EEXIST for an address or port another Service
 * holds, -ENOSPC when a range is used up, each with a message saying what
 * to do. */
int st_netalloc_service(json_t *svc, json_t *others, st_error *err);

/* ---- over the store ---------------------------------------------------- */

/* The pod CIDR for a node being added: the first one no stored Node holds.
 * stratad calls it at node add and stores it in spec.podCIDR (and
 * spec.podCIDRs) of the new Node, in the same pass. */
int st_control_node_pod_cidr(st_store *s, char out[ST_NET_CIDR_LEN], st_error *err);
/* After node was stored with a pod CIDR picked as above: when another
 * stratad (several hosts on one database) stored a node with the same
 * CIDR meanwhile, the node whose name sorts later picks again and is
 * updated, until no two nodes share one. *out: node's CIDR then. */
int st_control_node_pod_cidr_settle(st_store *s, const char *node, char out[ST_NET_CIDR_LEN],
                                    st_error *err);

/* For the API, before Services are written (create, apply, patch): gives
 * each Service of batch (an array) its addresses against the stored
 * Services and those before it in batch (st_netalloc_service), so a taken
 * address is refused at once with its error. The caller serializes calls
 * with the writes that follow, or two requests could pick one address (the
 * allocation pass then moves the younger Service). */
int st_control_service_allocate(st_store *s, json_t *batch, st_error *err);

/* The allocation pass (level-triggered, run with the other controllers):
 * every Service that lacks what its type needs gets it (a Service written
 * by another path, a type changed); a failure is a Warning event
 * "AllocationFailed" on the Service, and the pass goes on. The count of
 * Services written in *changed (may be NULL). */
int st_control_services(st_store *s, int *changed, st_error *err);

#endif
