/* ui_assets.h: the dashboard's files as stratad carries them. The table is
 * generated at build time from agent/ui/static/ (embed.cmake), so the page
 * is served with no files beside the binary and works offline. */
#ifndef STRATA_UI_ASSETS_H
#define STRATA_UI_ASSETS_H

#include <stddef.h>

struct st_ui_asset {
    const char *name; /* relative to static/: "index.html", "app.js" */
    const char *type; /* its Content-Type */
    const unsigned char *bytes;
    size_t len;
};

/* Ends with an entry whose name is NULL. */
extern const struct st_ui_asset st_ui_assets[];

#endif
