/** @odoo-module **/
// Logs in as admin (done by the test), opens Settings › Peak Operations,
// tries to switch Peak mode on without a reason (refused), gives one, reads
// the confirmation and finds the change in the audit log.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("peak_base_peak_mode_tour", {
    steps: () => [
        {
            content: "Open the Peak Operations settings",
            trigger: ".settings_tab .tab[data-key='peak_base']",
            run: "click",
        },
        {
            content: "Peak mode is off to begin with",
            trigger: "#peak_mode_setting .o_field_widget[name='peak_mode'] input:not(:checked)",
        },
        {
            content: "Switch Peak mode on",
            trigger: "#peak_mode_setting .o_field_widget[name='peak_mode'] input",
            run: "click",
        },
        {
            content: "Switching asks for a reason",
            trigger: "#peak_mode_setting .o_field_widget[name='peak_mode_reason'].o_required_modifier",
        },
        {
            content: "Save without one",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The reason is flagged and nothing is saved",
            trigger: "#peak_mode_setting .o_field_widget[name='peak_mode_reason'].o_field_invalid",
        },
        {
            content: "Say why",
            trigger: "#peak_mode_setting .o_field_widget[name='peak_mode_reason'] input",
            run: "edit Tour: carrier cut-off moved",
        },
        {
            content: "Save the settings",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The switch is confirmed with its reason",
            trigger: ".o_notification:contains('Peak mode is now on'):contains('Tour: carrier cut-off moved')",
        },
        {
            content: "The saved state says Peak mode is on",
            trigger: ".o_peak_mode_status:contains('switched on by an operator')",
        },
        {
            content: "Open the audit log",
            trigger: ".o_peak_audit_log_button",
            run: "click",
        },
        {
            content: "The newest entry is our change, by the administrator",
            trigger:
                ".o_list_view .o_data_row:first-child:has(.o_data_cell[name='reason']:contains('Tour: carrier cut-off moved')):has(.o_data_cell[name='state']:contains('On'))",
        },
    ],
});
