/** @odoo-module **/
// Logged in as an approver (not admin, done by the test): opens Peak access
// grants, finds the request made by someone else for a seasonal user,
// approves it and sees it active with the approval in its audit log.
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
    ],
});
