//! Settings: the agent's own password, and for admins the sites (see
//! [`crate::components::sites`]) with each site's hours, the team (create,
//! disable and enable accounts) and the integrations' API keys (create,
//! shown once; revoke).

use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::{AgentAccount, ApiKeyInfo, ChangePassword, NewAgent, Role, SiteHours};

use crate::api::{self, ForAgent as _};
use crate::components::sites::{Sites, set_value};
use crate::state::Inbox;

#[component]
pub fn Settings() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let admin = inbox.session.with_value(|s| s.agent.role == Role::Admin);
    // The site being edited, whose hours show too: the first one until
    // the admin picks another.
    let selected = RwSignal::new(None::<String>);
    let site = Memo::new(move |_| {
        selected
            .get()
            .or_else(|| inbox.sites.with(|s| s.first().map(|s| s.id.clone())))
    });
    view! {
        <section class="settings" aria-label="Settings" data-testid="settings">
            <Password />
            {admin
                .then(|| {
                    view! {
                        <Sites selected chosen=site />
                        {move || site.get().map(|site| view! { <Hours site /> })}
                    }
                })}
            {admin.then(|| view! { <TeamAdmin /> })}
            {admin.then(|| view! { <ApiKeys /> })}
        </section>
    }
}

/// Where a form says how its last submission went (`(true, _)`: done).
/// One function, so one closure type, for every form: each kind of
/// reactive closure costs the bundle about a kilobyte.
pub(crate) fn outcome_line(
    outcome: RwSignal<Option<(bool, String)>>,
    test_id: &'static str,
) -> impl IntoView {
    view! {
        <p class="outcome" role="alert" data-testid=test_id>
            {move || {
                outcome
                    .get()
                    .map(|(ok, text)| {
                        view! { <span class=if ok { "ok" } else { "error" }>{text}</span> }
                    })
            }}
        </p>
    }
}

/// Where a form shows its last error, if any (see [`outcome_line`]).
pub(crate) fn error_line(error: RwSignal<Option<String>>) -> impl IntoView {
    view! { <p class="error" role="alert">{move || error.get()}</p> }
}

/// The value of the form's field `name` (an input or a select).
pub(crate) fn field(form: &web_sys::HtmlFormElement, name: &str) -> String {
    js_sys::Reflect::get(form, &name.into())
        .and_then(|el| js_sys::Reflect::get(&el, &"value".into()))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

pub(crate) fn form_of(event: &leptos::ev::SubmitEvent) -> Option<web_sys::HtmlFormElement> {
    use wasm_bindgen::JsCast;
    event.prevent_default();
    event.target()?.dyn_into().ok()
}

#[component]
fn Password() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let outcome = RwSignal::new(None::<(bool, String)>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        let Some(form) = form_of(&event) else { return };
        let change = ChangePassword {
            current_password: field(&form, "current"),
            new_password: field(&form, "new"),
        };
        spawn_local(async move {
            match api::change_password(&inbox.csrf(), &change).await {
                Ok(()) => {
                    form.reset();
                    outcome.set(Some((
                        true,
                        "Password changed. Your other sessions are signed out.".to_owned(),
                    )));
                }
                Err(error) => outcome.set(Some((false, error.message()))),
            }
        });
    };
    view! {
        <form class="panel-form" on:submit=submit>
            <h2>"Your password"</h2>
            <label for="current">"Current password"</label>
            <input id="current" name="current" type="password" autocomplete="current-password" required />
            <label for="new">"New password (12 characters or more)"</label>
            <input id="new" name="new" type="password" autocomplete="new-password" minlength="12" required />
            {outcome_line(outcome, "outcome")}
            <button type="submit">"Change password"</button>
        </form>
    }
}

#[component]
fn TeamAdmin() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let agents = RwSignal::new(Vec::<AgentAccount>::new());
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::agents().await {
                Ok(list) => agents.set(list.agents),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    reload();
    let create = move |event: leptos::ev::SubmitEvent| {
        let Some(form) = form_of(&event) else { return };
        let role = if field(&form, "role") == "admin" {
            Role::Admin
        } else {
            Role::Agent
        };
        let agent = NewAgent {
            email: field(&form, "email"),
            name: field(&form, "name"),
            password: field(&form, "password"),
            role,
        };
        spawn_local(async move {
            match api::create_agent(&inbox.csrf(), &agent).await {
                Ok(_) => {
                    form.reset();
                    error.set(None);
                    reload();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let me = inbox.agent_id();
    view! {
        <div class="panel-form team" data-testid="team">
            <h2>"Team"</h2>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || agents.get() key=|a| (a.id.clone(), a.disabled_at) let:agent>
                        {
                            let disabled = agent.disabled_at.is_some();
                            let id = agent.id.clone();
                            let own = agent.id == me;
                            let toggle = move |_| {
                                let id = id.clone();
                                spawn_local(async move {
                                    let action = if disabled { "enable" } else { "disable" };
                                    match api::set_agent_enabled(&inbox.csrf(), &id, action).await {
                                        Ok(_) => reload(),
                                        Err(e) => error.set(Some(e.message())),
                                    }
                                });
                            };
                            view! {
                                <tr data-testid="team-member" data-email=agent.email.clone()>
                                    <td>{agent.name.clone()}</td>
                                    <td>{agent.email.clone()}</td>
                                    <td>{agent.role.as_str()}</td>
                                    <td>{if disabled { "disabled" } else { "active" }}</td>
                                    <td>
                                        {(!own)
                                            .then(|| {
                                                view! {
                                                    <button type="button" on:click=toggle.clone()>
                                                        {if disabled { "Enable" } else { "Disable" }}
                                                    </button>
                                                }
                                            })}
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            <form on:submit=create class="new-agent">
                <h3>"Add an agent"</h3>
                <label for="new-name">"Name"</label>
                <input id="new-name" name="name" required />
                <label for="new-email">"Email"</label>
                <input id="new-email" name="email" type="email" required />
                <label for="new-password">"First password (12 characters or more)"</label>
                <input id="new-password" name="password" type="password" autocomplete="new-password" minlength="12" required />
                <label for="new-role">"Role"</label>
                <select id="new-role" name="role">
                    <option value="agent">"Agent"</option>
                    <option value="admin">"Admin"</option>
                </select>
                {error_line(error)}
                <button type="submit">"Add agent"</button>
            </form>
        </div>
    }
}

#[component]
fn ApiKeys() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let keys = RwSignal::new(Vec::<ApiKeyInfo>::new());
    let error = RwSignal::new(None::<String>);
    // The secret of the key just created: shown here once, never again.
    let secret = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::api_keys().await {
                Ok(list) => keys.set(list.keys),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    reload();
    let create = move |event: leptos::ev::SubmitEvent| {
        let Some(form) = form_of(&event) else { return };
        let name = field(&form, "key-name");
        spawn_local(async move {
            match api::create_api_key(&inbox.csrf(), &name).await {
                Ok(created) => {
                    form.reset();
                    error.set(None);
                    secret.set(Some(created.secret));
                    reload();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    view! {
        <div class="panel-form keys" data-testid="api-keys">
            <h2>"API keys"</h2>
            <p class="hint">
                "For integrations: send a key as " <code>"Authorization: Bearer KEY"</code>
                " to the agent API."
            </p>
            {move || {
                secret
                    .get()
                    .map(|value| {
                        view! {
                            <div class="secret" role="status">
                                <p>"Copy this key now: it is not shown again."</p>
                                <code data-testid="api-key-secret">{value}</code>
                                <button type="button" on:click=move |_| secret.set(None)>
                                    "Done"
                                </button>
                            </div>
                        }
                    })
            }}
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Created by"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || keys.get() key=|k| (k.id.clone(), k.revoked_at) let:key>
                        {
                            let revoked = key.revoked_at.is_some();
                            let id = key.id.clone();
                            let revoke = move |_| {
                                let id = id.clone();
                                spawn_local(async move {
                                    match api::revoke_api_key(&inbox.csrf(), &id).await {
                                        Ok(_) => reload(),
                                        Err(e) => error.set(Some(e.message())),
                                    }
                                });
                            };
                            view! {
                                <tr data-testid="api-key" data-name=key.name.clone()>
                                    <td>{key.name.clone()}</td>
                                    <td>
                                        <code>{key.hint.clone()}"…"</code>
                                    </td>
                                    <td>{key.created_by.name.clone()}</td>
                                    <td>{if revoked { "revoked" } else { "active" }}</td>
                                    <td>
                                        {(!revoked)
                                            .then(|| {
                                                view! {
                                                    <button type="button" on:click=revoke.clone()>
                                                        "Revoke"
                                                    </button>
                                                }
                                            })}
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            <form on:submit=create class="new-key">
                <label for="key-name">"New key for"</label>
                <input id="key-name" name="key-name" maxlength="100" required placeholder="CRM sync" />
                {error_line(error)}
                <button type="submit">"Create key"</button>
            </form>
        </div>
    }
}

/// The weekdays as the form lists them: (label, field name).
const DAYS: [(&str, &str); 7] = [
    ("Monday", "mon"),
    ("Tuesday", "tue"),
    ("Wednesday", "wed"),
    ("Thursday", "thu"),
    ("Friday", "fri"),
    ("Saturday", "sat"),
    ("Sunday", "sun"),
];

fn day(hours: &messenger_wire::WeekHours, name: &str) -> Option<[u32; 2]> {
    let ranges = match name {
        "mon" => &hours.mon,
        "tue" => &hours.tue,
        "wed" => &hours.wed,
        "thu" => &hours.thu,
        "fri" => &hours.fri,
        "sat" => &hours.sat,
        _ => &hours.sun,
    };
    ranges.first().copied()
}

fn day_mut<'a>(hours: &'a mut messenger_wire::WeekHours, name: &str) -> &'a mut Vec<[u32; 2]> {
    match name {
        "mon" => &mut hours.mon,
        "tue" => &mut hours.tue,
        "wed" => &mut hours.wed,
        "thu" => &mut hours.thu,
        "fri" => &mut hours.fri,
        "sat" => &mut hours.sat,
        _ => &mut hours.sun,
    }
}

/// `HH:MM` of a minute of the day.
fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The minute of the day of `HH:MM` (`24:00` is the end of the day).
fn minute_of(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let minute = h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?;
    (minute <= 1440).then_some(minute)
}

pub(crate) fn checked(form: &web_sys::HtmlFormElement, name: &str) -> bool {
    js_sys::Reflect::get(form, &name.into())
        .and_then(|el| js_sys::Reflect::get(&el, &"checked".into()))
        .is_ok_and(|v| v.is_truthy())
}

/// Business hours (one range per weekday), holidays, the expected reply
/// time, the greeting and the away message. No hours at all: always open.
#[component]
fn Hours(site: String) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let loaded = RwSignal::new(None::<SiteHours>);
    let outcome = RwSignal::new(None::<(bool, String)>);
    let site = StoredValue::new(site);
    // Named when there is more than one site.
    let site_name = inbox.sites.with_untracked(|s| {
        (s.len() > 1)
            .then(|| s.iter().find(|s| site.with_value(|id| &s.id == id)))
            .flatten()
            .map(|s| format!(": {}", s.settings.name))
            .unwrap_or_default()
    });
    spawn_local(async move {
        match api::hours(&site.get_value()).await {
            Ok(hours) => loaded.set(Some(hours)),
            Err(e) => outcome.set(Some((false, e.message()))),
        }
    });
    let save = move |event: leptos::ev::SubmitEvent| {
        let Some(form) = form_of(&event) else { return };
        let mut hours = SiteHours {
            time_zone: field(&form, "time_zone").trim().to_owned(),
            ..SiteHours::default()
        };
        for (label, name) in DAYS {
            if !checked(&form, &format!("{name}-open")) {
                continue;
            }
            let (Some(start), Some(end)) = (
                minute_of(&field(&form, &format!("{name}-start"))),
                minute_of(&field(&form, &format!("{name}-end"))),
            ) else {
                outcome.set(Some((
                    false,
                    format!("{label}: give an opening and a closing time."),
                )));
                return;
            };
            day_mut(&mut hours.hours, name).push([start, end]);
        }
        hours.holidays = field(&form, "holidays")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        hours.expected_reply_minutes = field(&form, "expected").trim().parse().ok();
        let text =
            |name: &str| Some(field(&form, name).trim().to_owned()).filter(|t| !t.is_empty());
        hours.greeting = text("greeting");
        hours.away_message = text("away");
        spawn_local(async move {
            match api::save_hours(&inbox.csrf(), &site.get_value(), &hours).await {
                Ok(saved) => {
                    // The same greeting as in the site's own form.
                    set_value(
                        "site-greeting",
                        saved.greeting.as_deref().unwrap_or_default(),
                    );
                    loaded.set(Some(saved));
                    outcome.set(Some((true, "Saved.".to_owned())));
                }
                Err(e) => outcome.set(Some((false, e.message()))),
            }
        });
    };
    move || {
        loaded.get().map(|hours| {
            let days = DAYS
                .iter()
                .map(|(label, name)| {
                    let range = day(&hours.hours, name);
                    view! {
                        <fieldset class="day">
                            <legend>{*label}</legend>
                            <label>
                                <input type="checkbox" name=format!("{name}-open") checked=range.is_some() />
                                "Open"
                            </label>
                            <label>
                                "from "
                                <input type="time" name=format!("{name}-start") value=range.map_or("09:00".to_owned(), |r| hhmm(r[0])) />
                            </label>
                            <label>
                                "to "
                                <input type="time" name=format!("{name}-end") value=range.map_or("17:00".to_owned(), |r| hhmm(r[1])) />
                            </label>
                        </fieldset>
                    }
                })
                .collect_view();
            view! {
                <form class="panel-form hours" on:submit=save data-testid="hours">
                    <h2>"Hours and replies" {site_name.clone()}</h2>
                    <p class="hint">"No open day at all means always open."</p>
                    <label for="time_zone">"Time zone"</label>
                    <input id="time_zone" name="time_zone" value=hours.time_zone.clone() required />
                    {days}
                    <label for="holidays">"Closed on (one date per line, YYYY-MM-DD)"</label>
                    <textarea id="holidays" name="holidays" rows="3">{hours.holidays.join("\n")}</textarea>
                    <label for="expected">"We usually reply within (minutes)"</label>
                    <input id="expected" name="expected" type="number" min="1" value=hours.expected_reply_minutes.map(|m| m.to_string()).unwrap_or_default() />
                    <label for="greeting">"Greeting"</label>
                    <input
                        id="greeting"
                        name="greeting"
                        value=hours.greeting.clone().unwrap_or_default()
                        on:input=|ev| set_value("site-greeting", &event_target_value(&ev))
                    />
                    <label for="away">"Away message (sent once when someone writes while closed)"</label>
                    <input id="away" name="away" value=hours.away_message.clone().unwrap_or_default() />
                    {outcome_line(outcome, "outcome")}
                    <button type="submit">"Save"</button>
                </form>
            }
        })
    }
}
