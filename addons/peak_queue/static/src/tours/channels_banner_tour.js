/** @odoo-module **/
// Opens Peak Operations › Job queue › Channels (as admin, with no governor
// heartbeat in the database and a job runner capacity of 7) and reads the
// governor banner above the list, the capacity in force and the classes,
// then root.critical's form.
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
            content: "Root's capacity is the job runner's (one meaning everywhere)",
            trigger: ".o_data_row:first-child:has(td[name='complete_name']:contains('root')) td[name='effective_capacity']:contains('7')",
        },
        {
            content: "Classes are badges, no row is painted as an error",
            trigger: ".o_list_table:has(.o_data_row):not(:has(.o_data_row.text-danger))",
        },
        {
            content: "Open root.critical",
            trigger: ".o_data_row td[name='complete_name']:contains('root.critical')",
            run: "click",
        },
        {
            content: "Its form says Class once, and the capacity in force",
            trigger: ".o_form_view:not(:has(label:contains('Priority Class'))):has(label:contains('Own limit')):has(.o_field_widget[name='priority_class'])",
        },
    ],
});
