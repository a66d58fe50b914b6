/* fuzz_manifest.c: the manifest reader (agent/manifest) on any bytes: YAML
 * or JSON text (API bodies for create and replace are JSON, read by the same
 * reader), in the three unknown-field modes of ?fieldValidation=, and the
 * quantity parser on the first line. Property: what the reader accepts,
 * written back with Strata's own printers (st_yaml_dumps, stratactl's -o yaml,
 * and jansson's JSON, the API's output) and read again, gives the same
 * objects: a difference means the printer and the reader disagree about
 * some value, which a user would see as `get -o yaml | apply -f -` changing
 * the object. */
#include "fuzz.h"

#include "strata/manifest.h"
#include "strata/quantity.h"
#include "strata/yaml_out.h"

static json_t *read_text(const char *text, size_t len, enum st_manifest_fields mode)
{
    json_t *objects = NULL;
    struct st_manifest_diag *diags = NULL;
    st_error err = {0};
    st_manifest_parse_string_fields("fuzz.yaml", text, len, mode, &objects, &diags, &err);
    st_manifest_diag_free(diags);
    return objects;
}

/* objects written by print and read again (strict: the printed objects
 * have no unknown fields left) must be equal to objects. */
static void round_trip(json_t *objects)
{
    char *yaml = NULL;
    st_error err = {0};
    if (st_yaml_dumps(objects, true, &yaml, &err) < 0) {
        fprintf(stderr, "st_yaml_dumps: %s\n", err.msg);
        st_fuzz_fail("the YAML writer refused objects the reader made", objects, NULL);
    }
    json_t *again = read_text(yaml, strlen(yaml), ST_MANIFEST_FIELDS_STRICT);
    if (again == NULL || !json_equal(objects, again)) {
        fprintf(stderr, "--- YAML written:\n%s", yaml);
        st_fuzz_fail("read -> YAML -> read changed the objects", objects, again);
    }
    json_decref(again);
    free(yaml);

    size_t i;
    json_t *obj;
    json_array_foreach(objects, i, obj)
    {
        char *json = json_dumps(obj, JSON_COMPACT);
        if (json == NULL)
            st_fuzz_fail("jansson cannot write an object the reader made", obj, NULL);
        json_t *back = read_text(json, strlen(json), ST_MANIFEST_FIELDS_STRICT);
        if (back == NULL || json_array_size(back) != 1 ||
            !json_equal(obj, json_array_get(back, 0))) {
            fprintf(stderr, "--- JSON written:\n%s\n", json);
            st_fuzz_fail("read -> JSON -> read changed an object", obj, back);
        }
        json_decref(back);
        free(json);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = st_fuzz_text(data, size);
    /* The mode follows from the input, so a saved input replays the same. */
    enum st_manifest_fields mode = (enum st_manifest_fields)(size % 3);
    json_t *objects = read_text(text, size, mode);
    if (objects)
        round_trip(objects);
    json_decref(objects);

    char *nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    int64_t v;
    st_quantity_parse_millis(text, &v, NULL);
    st_quantity_parse_bytes(text, &v, NULL);
    free(text);
    return 0;
}
