/*
 * The Cascade plugin ABI, version 1.0: the only contract between the engine
 * and an in-process plugin. Plain C, so a plugin built with another compiler,
 * another standard library or another release of Cascade still loads.
 *
 * Rules of the boundary
 *   - Every payload is UTF-8 JSON passed as (pointer, size); nothing is
 *     NUL-terminated unless it says so.
 *   - Nothing allocated on one side is freed on the other. Results travel
 *     through a cascade_sink owned by the caller: the callee appends bytes and
 *     the caller copies them before append returns.
 *   - No C++ exception may leave a plugin function (the C++ SDK catches them).
 *   - Versions: a host loads a plugin whose major equals its own and whose
 *     minor is not greater. Tables only grow at their end; `struct_size` tells
 *     the reader which slots the writer knew about.
 *
 * Besides this table a library carries its manifest (JSON) in an ELF section
 * named ".cascade_manifest"; the host reads it from the file, before loading
 * the library, so no plugin code runs until the manifest has been checked.
 */
#ifndef CASCADE_PLUGIN_H
#define CASCADE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* C names by C conventions (the C++ naming rules of the project do not apply). */
/* NOLINTBEGIN(readability-identifier-naming) */

#define CASCADE_ABI_MAJOR 1
#define CASCADE_ABI_MINOR 0

/* The outcome of a side-effecting call. The engine owns retry and back-off:
 * a plugin reports RETRY and returns; it never sleeps and loops. */
typedef enum cascade_status {
    CASCADE_OK = 0,    /* done; the sink holds the JSON result (may be empty: null) */
    CASCADE_RETRY = 1, /* a transient failure; the sink holds a UTF-8 message */
    CASCADE_ERROR = 2  /* a permanent failure; the sink holds a UTF-8 message */
} cascade_status;

typedef enum cascade_log_level {
    CASCADE_LOG_TRACE = 0,
    CASCADE_LOG_DEBUG = 1,
    CASCADE_LOG_INFO = 2,
    CASCADE_LOG_WARN = 3,
    CASCADE_LOG_ERROR = 4
} cascade_log_level;

/* A byte sink owned by whoever passes it. `append` copies; it may be called
 * any number of times during one call and never after that call returns. */
typedef struct cascade_sink {
    void* context;
    void (*append)(void* context, const char* data, size_t size);
} cascade_sink;

/* What the host offers a plugin instance. Handed to `create`; valid until the
 * instance's `destroy` returns. */
typedef struct cascade_host_services {
    uint32_t struct_size; /* sizeof the host's table: slots past it are absent */
    uint16_t abi_major;
    uint16_t abi_minor;
    void* context; /* pass back to every function below */

    /* ---- 1.0 ---- */
    /* A line in the host's log, tagged with the plugin's declared name. */
    void (*log)(void* context, int level, const char* message, size_t size);
    /* Non-zero once the host no longer waits for the current call (its
     * timeout passed): return soon, with RETRY. */
    int (*cancelled)(void* context);
    /* Reads a source plugin declared by the same workflow:
     * `source` names the declaration, `params` is the JSON of its `read`
     * method. Returns a cascade_status; `out` receives the result or message. */
    int (*read_source)(void* context, const char* source, size_t source_size, const char* params, size_t params_size,
                       cascade_sink* out);
} cascade_host_services;

/* What a plugin library offers. Returned by cascade_plugin_entry; it must
 * stay valid while the library is loaded (a static table is the usual way). */
typedef struct cascade_plugin_api {
    uint32_t struct_size; /* sizeof the plugin's table */
    uint16_t abi_major;   /* the ABI the plugin was built against */
    uint16_t abi_minor;
    const char* name; /* NUL-terminated; must equal the manifest's name */

    /* ---- 1.0 ---- */
    /* Makes an instance for one workflow declaration. `config` is the JSON
     * object of the declaration's `config`, already checked against the
     * manifest's schema. On failure return RETRY or ERROR with a message in
     * `error`, and leave *instance alone. */
    int (*create)(const cascade_host_services* host, const char* config, size_t config_size, void** instance,
                  cascade_sink* error);
    /* Runs one method ("notify", "report", "read", "act", "self_test") with
     * JSON `params`; the result or the message goes to `out`. Calls on one
     * instance never overlap. */
    int (*call)(void* instance, const char* method, size_t method_size, const char* params, size_t params_size,
                cascade_sink* out);
    /* Frees everything `create` made. */
    void (*destroy)(void* instance);
} cascade_plugin_api;

/* The one exported symbol. The host passes its own ABI version so a plugin
 * can return NULL when it cannot serve that host. */
#define CASCADE_PLUGIN_ENTRY_SYMBOL "cascade_plugin_entry"
typedef const cascade_plugin_api* (*cascade_plugin_entry_fn)(uint16_t host_abi_major, uint16_t host_abi_minor);

/* NOLINTEND(readability-identifier-naming) */

#ifdef __cplusplus
}
#endif

#endif /* CASCADE_PLUGIN_H */
