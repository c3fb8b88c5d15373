/** @odoo-module **/
// Opens Peak Operations › Job queue › Channels (as admin, with no governor
// heartbeat in the database) and reads the governor banner above the list.
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("peak_queue_channels_banner_tour", {
    steps: () => [
        {
            content: "The banner warns that no governor has run",
            trigger: ".o_peak_governor_banner .alert-warning:contains('No governor has run')",
        },
        {
            content: "It lists the leases (none here)",
            trigger: ".o_peak_governor_banner:contains('No active lease')",
        },
        {
            content: "Capacity 0 of root reads unlimited",
            trigger: ".o_data_row:contains('root') td[name='capacity_label']:contains('unlimited')",
        },
    ],
});
