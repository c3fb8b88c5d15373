/** @odoo-module **/
// Opens Settings › Peak Operations fresh and reads the HTTP sessions block:
// where sessions live and whether that store answers, before any save.
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("peak_session_redis_settings_tour", {
    steps: () => [
        {
            content: "Open the Peak Operations settings",
            trigger: ".settings_tab .tab[data-key='peak_base']",
            run: "click",
        },
        {
            content: "The session store is shown on first load",
            trigger: ".o_peak_session_store:contains('Redis')",
        },
        {
            content: "and it answers",
            trigger: ".o_peak_session_store_health:contains('healthy, ping')",
        },
    ],
});
