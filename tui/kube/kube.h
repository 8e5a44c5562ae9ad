/* tui/kube, everything the console uses:
 *
 *   kubeconfig.h   kubeconfig parsing, KUBECONFIG merging, the loading rule
 *   kube_auth.h    a resolved connection and its credentials (tokens, token
 *                  files, client certificates, exec plugins, in-cluster)
 *   kube_client.h  requests on one libcurl multi handle, driven by poll()
 *   kube_pods.h    the pod model and the list + watch loop
 *   kube_events.h  a pod's recent events (core/v1 Event list)
 *   kube_watch.h   the watch stream decoder
 *   kube_status.h  API Status objects
 *   kube_error.h   every error code and its message
 *
 * Typical start:
 *   struct kube_load_options opts = {.kubeconfig_flag = ..., .context_flag = ...,
 *                                    .namespace_flag = ...};
 *   kube_load_options_from_env(&opts);
 *   kube_connection_load(&opts, &conn, &err);
 *   client = kube_client_new(&conn, &err);
 *   watch = kube_pod_watch_start(client, &(struct kube_pod_watch_options){
 *                                    .namespace = conn.namespace}, on_pod, model);
 *   then the poll loop of kube_client.h. Stop watches before freeing the
 *   client, and the client before the connection. */
#ifndef KUBE_H
#define KUBE_H

#include "kube_auth.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_events.h"
#include "kube_pods.h"
#include "kube_status.h"
#include "kube_watch.h"
#include "kubeconfig.h"

#endif
