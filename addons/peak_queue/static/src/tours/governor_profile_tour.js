/** @odoo-module **/
// Opens Settings › Peak Operations fresh (as admin, profile and drain unset),
// reads the governor's status and defaults and the profile in force with its
// one-line explanation (all shown on first load, before any save), switches
// to "Pickers first" with a fixed drain lead and saves.
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("peak_queue_governor_profile_tour", {
    steps: () => [
        {
            content: "Open the Peak Operations settings",
            trigger: ".settings_tab .tab[data-key='peak_base']",
            run: "click",
        },
        {
            content: "On first load, the governor status is shown",
            trigger: "#peak_governor_status .o_field_widget[name='peak_governor_status_html']:contains('No governor has run on this database yet')",
        },
        {
            content: "and so are the defaults in force",
            trigger: "#peak_governor_thresholds .o_field_widget[name='peak_governor_defaults_note']:contains('Defaults in force when left unchanged')",
        },
        {
            content: "On first load, Balanced is the profile in force",
            trigger: "#peak_governor_profile .o_field_widget[name='peak_governor_profile'] input[data-value='balanced']:checked",
        },
        {
            content: "and its explanation is shown, without saving first",
            trigger: ".o_peak_profile_note:contains('a lone wait is left alone')",
        },
        {
            content: "The drain is automatic",
            trigger: "#peak_governor_profile .o_field_widget[name='peak_governor_drain_mode'] select:has(option:selected:contains('Automatic'))",
        },
        {
            content: "Nothing is unsaved on first load",
            trigger: "body:not(:has(.o_form_dirty))",
        },
        {
            content: "Choose Pickers first",
            trigger: "#peak_governor_profile .o_field_widget[name='peak_governor_profile'] input[data-value='pickers_first']",
            run: "click",
        },
        {
            content: "The explanation follows the choice",
            trigger: ".o_peak_profile_note:contains('preempt the low-priority job')",
        },
        {
            content: "Choose a fixed drain lead",
            trigger: "#peak_governor_profile .o_field_widget[name='peak_governor_drain_mode'] select",
            run: 'select "fixed"',
        },
        {
            content: "Type the lead",
            trigger: "#peak_governor_profile .o_field_widget[name='peak_governor_drain_seconds'] input",
            run: "edit 45",
        },
        {
            content: "Save the settings",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "After the reload the choice is what is shown",
            trigger: "#peak_governor_profile .o_field_widget[name='peak_governor_profile'] input[data-value='pickers_first']:checked",
        },
        {
            content: "and nothing is unsaved after the reload",
            trigger: "body:not(:has(.o_form_dirty))",
        },
    ],
});
