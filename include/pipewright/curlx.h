/*
 * curlx: libcurl, loaded when the first outbound call is due.
 *
 * Linking libcurl costs an idle daemon about 6 MB of resident memory and
 * 1 MB of anonymous memory (its TLS, IDN, SSH, LDAP and Kerberos
 * libraries are mapped and relocated at exec) even when nothing is ever
 * sent.  So pipewright is not linked with it: src/curlx defines the
 * entry points of <curl/curl.h> that pipewright calls, each forwarding to
 * libcurl.so.4 opened with dlopen the first time one of them, or
 * curlx_load(), is called.  Callers use <curl/curl.h> as usual; they call
 * curlx_load() first where a missing libcurl must be a clear error
 * rather than a failed transfer.
 *
 * The library is opened once per process and never closed (its TLS
 * libraries keep thread-local state).  PIPEWRIGHT_LIBCURL names another
 * file to open instead (an absolute path, or a name the dynamic loader
 * finds).
 */
#ifndef PW_CURLX_H
#define PW_CURLX_H

#include <stdbool.h>

/*
 * Opens libcurl if it is not open yet: 0, or -ENOENT with *why (static
 * storage, for the life of the process) saying which file could not be
 * opened or which entry point it lacks.  Thread-safe; the same answer
 * every time.
 */
int curlx_load(const char **why);

/* Whether libcurl is open in this process (never opens it). */
bool curlx_loaded(void);

#endif
