/** @odoo-module **/
// The Channels list with the governor's state above it: an operator who just
// switched Peak mode on sees whether a governor runs, its level and leases.
import {Component, markup, onWillStart, useState} from "@odoo/owl";
import {ListController} from "@web/views/list/list_controller";
import {listView} from "@web/views/list/list_view";
import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";

export class PeakGovernorBanner extends Component {
    static template = "peak_queue.GovernorBanner";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.state = useState({html: ""});
        onWillStart(() => this.refresh());
    }

    async refresh() {
        const html = await this.orm.call("peak.governor.status", "render_html", []);
        this.state.html = markup(html || "");
    }
}

export class PeakChannelListController extends ListController {
    static template = "peak_queue.ChannelListView";
    static components = {...ListController.components, PeakGovernorBanner};
}

registry.category("views").add("peak_channel_list", {
    ...listView,
    Controller: PeakChannelListController,
});
