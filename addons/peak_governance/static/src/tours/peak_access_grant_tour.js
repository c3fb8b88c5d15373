/** @odoo-module **/
// Logged in as an approver (not admin, done by the test): opens Peak access
// grants, finds the request a team lead made for a seasonal user
// (peak_access_grant_request_tour.js), approves it and sees it active with
// the approval in its audit log; then reviews what expires within 24 h.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("peak_governance_access_grant_tour", {
    steps: () => [
        {
            content: "The request for the seasonal picker is in the list",
            trigger: ".o_list_view .o_data_row:has(.o_data_cell[name='user_id']:contains('Sam Seasonal')):has(.o_data_cell[name='state']:contains('Requested'))",
        },
        {
            content: "Open it",
            trigger: ".o_list_view .o_data_row .o_data_cell[name='user_id']:contains('Sam Seasonal')",
            run: "click",
        },
        {
            content: "The form names the groups and the reason",
            trigger: ".o_form_view .o_field_widget[name='group_ids']:contains('Contact Creation')",
        },
        {
            content: "Approve it",
            trigger: ".o_form_view .o_statusbar_buttons button.o_peak_grant_approve",
            run: "click",
        },
        {
            content: "Its start has passed: the grant is active at once",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Active')",
        },
        {
            content: "The groups it added are shown",
            trigger: ".o_form_view .o_field_widget[name='added_group_ids']:contains('Contact Creation')",
        },
        {
            content: "The audit log has the approval",
            trigger: ".o_form_view .o_field_widget[name='log_ids'] .o_data_row .o_data_cell[name='event']:contains('Approved')",
        },
        {
            content: "Back to the list",
            trigger: ".o_control_panel .o_back_button, .o_control_panel .breadcrumb-item a",
            run: "click",
        },
        {
            content: "Review what expires within 24 hours",
            trigger: ".o_control_panel_actions .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            trigger: ".o_filter_menu .dropdown-item:contains('Expiring within 24 h')",
            run: "click",
        },
        {
            content: "The partner's support access ends today; the season's does not",
            trigger: ".o_list_view:not(:has(.o_data_cell:contains('Sam Seasonal'))) .o_data_row .o_data_cell[name='user_id']:contains('Pat Partner')",
        },
    ],
});
