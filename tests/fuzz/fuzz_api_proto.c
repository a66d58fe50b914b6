/* fuzz_api_proto.c: a request body in Kubernetes' protobuf encoding
 * (agent/server/api_proto.c: "k8s\0", a runtime.Unknown, the object's own
 * message, read with protobuf-c), turned into JSON and then read by the
 * manifest reader as a create does, or, for an Eviction, its deleteOptions
 * read as the eviction endpoint reads them. Any client that reaches the API
 * can send one. */
#include "fuzz.h"

#include "api_priv.h"
#include "strata/delete_options.h"
#include "strata/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *obj = NULL, *notes = NULL;
    if (st_server_api_proto_to_json((const char *)data, size, &obj, &notes, NULL) == 0) {
        st_propagation policy;
        int grace;
        json_t *dopt = json_object_get(obj, "deleteOptions");
        if (dopt)
            st_delete_options_parse(NULL, NULL, dopt, &policy, &grace, NULL);
        char *text = json_dumps(obj, JSON_COMPACT);
        if (text) {
            json_t *objects = NULL;
            struct st_manifest_diag *diags = NULL;
            st_manifest_parse_string_fields("<body>", text, strlen(text), ST_MANIFEST_FIELDS_WARN,
                                            &objects, &diags, NULL);
            st_manifest_diag_free(diags);
            json_decref(objects);
            free(text);
        }
    }
    json_decref(obj);
    json_decref(notes);
    return 0;
}
