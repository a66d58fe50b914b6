/* service_env.h: the environment variables kubelet gives a container for
 * every Service of its namespace that exists when the pod starts
 * (QUOTE_SERVICE_HOST, QUOTE_SERVICE_PORT, QUOTE_PORT_80_TCP_ADDR, ...), so
 * programs written for Kubernetes find their Services the same way here.
 * Pure: the caller lists the Services. */
#ifndef STRATA_SERVICE_ENV_H
#define STRATA_SERVICE_ENV_H

#include <jansson.h>

/* The variables for services (an array of v1 Services; those of other
 * namespaces than ns and those without spec.clusterIP are skipped), as a
 * new array of {name, value} in the order of services then ports. For a
 * Service NAME (upper-cased, '-' -> '_') with cluster IP IP and first port
 * P: NAME_SERVICE_HOST=IP, NAME_SERVICE_PORT=P, NAME_PORT=tcp://IP:P; for
 * each port Q: NAME_SERVICE_PORT_PORTNAME=Q (named ports),
 * NAME_PORT_Q_TCP=tcp://IP:Q, NAME_PORT_Q_TCP_PROTO=tcp, _PORT=Q, _ADDR=IP. */
json_t *st_service_env(json_t *services, const char *ns);

/* Adds env to every container of a pod spec, after its own variables; a
 * name the container sets itself is not added (the user's value wins). */
void st_service_env_merge(json_t *spec, json_t *env);

#endif
