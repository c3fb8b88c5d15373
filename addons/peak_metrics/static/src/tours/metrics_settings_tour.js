/** @odoo-module **/
// Opens Settings › Peak Operations fresh and reads the Monitoring block: the
// scrape URL and whether the token is set, before any save.
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("peak_metrics_settings_tour", {
    steps: () => [
        {
            content: "Open the Peak Operations settings",
            trigger: ".settings_tab .tab[data-key='peak_base']",
            run: "click",
        },
        {
            content: "The scrape URL is shown on first load",
            trigger: ".o_peak_metrics_url:contains('/metrics')",
        },
        {
            content: "The token is set (the test server has one)",
            trigger: ".o_peak_metrics_token_set input:checked",
        },
        {
            content: "and the status says scraping is enabled",
            trigger: "#peak_metrics_scrape .o_field_widget[name='peak_metrics_status']:contains('enabled: Prometheus sends')",
        },
    ],
});
