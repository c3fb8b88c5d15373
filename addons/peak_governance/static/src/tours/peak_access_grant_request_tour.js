/** @odoo-module **/
// Logged in as a team lead (a Peak user, done by the test): asks for
// seasonal access for a new picker until the end of the season, naming an
// approver. The approver's side is peak_access_grant_tour.js.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("peak_governance_access_grant_request_tour", {
    steps: () => [
        {
            content: "New access grant",
            trigger: ".o_control_panel .o_list_button_add",
            run: "click",
        },
        {
            content: "For the seasonal picker",
            trigger: ".o_form_view .o_field_widget[name='user_id'] input",
            run: "edit Sam Seas",
        },
        {
            trigger: ".o_field_widget[name='user_id'] .o-autocomplete--dropdown-menu li:contains('Sam Seasonal')",
            run: "click",
        },
        {
            content: "The group the job needs",
            trigger: ".o_form_view .o_field_widget[name='group_ids'] input",
            run: "edit Contact Creation",
        },
        {
            trigger: ".o_field_widget[name='group_ids'] .o-autocomplete--dropdown-menu li:contains('Contact Creation')",
            run: "click",
        },
        {
            content: "Until the end of the season",
            trigger: ".o_form_view .o_field_widget[name='date_end'] input",
            run: "edit 01/15/2099 18:00:00",
        },
        {
            content: "A seasonal account: archived at the end",
            trigger: ".o_form_view .o_field_widget[name='end_action'] select",
            run: "selectByLabel Archive the user",
        },
        {
            content: "Approved by the warehouse manager",
            trigger: ".o_form_view .o_field_widget[name='approver_id'] input",
            run: "edit Alex",
        },
        {
            trigger: ".o_field_widget[name='approver_id'] .o-autocomplete--dropdown-menu li:contains('Alex Approver')",
            run: "click",
        },
        {
            content: "Why",
            trigger: ".o_form_view .o_field_widget[name='reason'] textarea",
            run: "edit Seasonal picker for the Christmas rush",
        },
        {
            content: "Save the request",
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved as a request, with its audit row",
            trigger: ".o_form_view .o_field_widget[name='log_ids'] .o_data_cell[name='event']:contains('Requested')",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Requested')",
        },
    ],
});
