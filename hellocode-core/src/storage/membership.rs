//! The rules of chat membership, written once for every backend: given a chat's members and
//! the change an actor asks for, either the refusal or the plan (what to store, and the events
//! that record it). A backend loads the roster inside its write transaction, asks [`plan`], and
//! applies the plan in the same transaction, so two changes cannot both pass a check that only
//! one of them should.

use crate::model::{
    Chat, ChatChange, ChatChanged, ChatId, ChatKind, EventKind, InvitationState, Message, Revised,
    Role, Seq, Timestamp,
};
use crate::{Error, Result};

/// A chat's members as stored, for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Roster {
    /// Direct or group.
    pub kind: ChatKind,
    /// The group's name.
    pub name: Option<String>,
    /// The group's topic.
    pub topic: Option<String>,
    /// Members with their roles, oldest first (by the time they joined, then username).
    pub members: Vec<(String, Role)>,
}

impl Roster {
    fn role(&self, username: &str) -> Option<Role> {
        self.members.iter().find(|(name, _)| name == username).map(|(_, role)| *role)
    }
}

/// One change to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// A new member with this role.
    Add(String, Role),
    /// A member goes (with their read position).
    Remove(String),
    /// A member's role changes.
    SetRole(String, Role),
    /// The group's name (`None`: no name).
    SetName(Option<String>),
    /// The group's topic (`None`: no topic).
    SetTopic(Option<String>),
    /// The last member left: the chat goes, with its history (no one could ever read it).
    DeleteChat,
}

/// An event to store, with the chat's next sequence number; the actor is its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft {
    pub kind: EventKind,
    pub member: Option<String>,
    pub role: Option<Role>,
    pub content: String,
}

impl Draft {
    fn membership(kind: EventKind, member: &str, role: Option<Role>) -> Self {
        Draft { kind, member: Some(member.to_owned()), role, content: String::new() }
    }

    pub(crate) fn text(kind: EventKind, content: Option<&str>) -> Self {
        Draft { kind, member: None, role: None, content: content.unwrap_or_default().to_owned() }
    }
}

impl Plan {
    /// Whether the change deletes the chat (its last member left).
    pub(crate) fn deletes_chat(&self) -> bool {
        self.effects.contains(&Effect::DeleteChat)
    }
}

/// What a change stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Applied in order.
    pub effects: Vec<Effect>,
    /// Events, in sequence order.
    pub drafts: Vec<Draft>,
    /// Members who are gone after it.
    pub gone: Vec<String>,
    /// Members who are new after it.
    pub added: Vec<String>,
}

/// Check `change` by `by` against the rules, and say what to store.
pub(crate) fn plan(chat: ChatId, roster: &Roster, by: &str, change: &ChatChange) -> Result<Plan> {
    let Some(actor_role) = roster.role(by) else {
        return Err(Error::NotParticipant { chat, username: by.to_owned() });
    };
    let direct = roster.kind == ChatKind::Direct;
    let refuse =
        |action, reason| Error::NotAllowed { chat, username: by.to_owned(), action, reason };
    let mut plan = Plan::default();
    match change {
        ChatChange::Add { usernames, max } => {
            if direct {
                return Err(Error::DirectChat { chat, action: "gain members" });
            }
            if !actor_role.manages() {
                return Err(refuse("add members", "only an owner or admin may"));
            }
            let new: Vec<&String> =
                usernames.iter().filter(|name| roster.role(name).is_none()).collect();
            let size = roster.members.len() + new.len();
            if !new.is_empty() && size > *max {
                return Err(Error::TooManyParticipants { chat, size, limit: *max });
            }
            for name in new {
                plan.effects.push(Effect::Add(name.clone(), Role::Member));
                plan.drafts.push(Draft::membership(EventKind::Join, name, Some(Role::Member)));
                plan.added.push(name.clone());
            }
        }
        ChatChange::Remove { username } if username == by => {
            return self::plan(chat, roster, by, &ChatChange::Leave);
        }
        ChatChange::Remove { username } => {
            if direct {
                return Err(Error::DirectChat { chat, action: "lose members" });
            }
            let Some(target_role) = roster.role(username) else {
                return Err(Error::NotMember { chat, username: username.clone() });
            };
            let allowed = match actor_role {
                Role::Owner => true,
                Role::Admin => target_role == Role::Member,
                Role::Member => false,
            };
            if !allowed {
                let reason = if actor_role == Role::Admin {
                    "an admin removes plain members only"
                } else {
                    "only an owner or admin may"
                };
                return Err(refuse("remove members", reason));
            }
            plan.effects.push(Effect::Remove(username.clone()));
            plan.drafts.push(Draft::membership(EventKind::Remove, username, None));
            plan.gone.push(username.clone());
        }
        ChatChange::Leave if roster.members.len() == 1 => {
            plan.effects.push(Effect::DeleteChat);
            plan.gone.push(by.to_owned());
        }
        ChatChange::Leave => {
            plan.effects.push(Effect::Remove(by.to_owned()));
            plan.drafts.push(Draft::membership(EventKind::Leave, by, None));
            plan.gone.push(by.to_owned());
            if !direct && actor_role == Role::Owner {
                // The group keeps an owner: the oldest admin, else the oldest member.
                let others = roster.members.iter().filter(|(name, _)| name != by);
                let successor = others
                    .clone()
                    .find(|(_, role)| *role == Role::Admin)
                    .or_else(|| others.clone().next());
                if let Some((name, _)) = successor {
                    plan.effects.push(Effect::SetRole(name.clone(), Role::Owner));
                    plan.drafts.push(Draft::membership(EventKind::Role, name, Some(Role::Owner)));
                }
            }
        }
        ChatChange::SetRole { username, role } => {
            if direct {
                return Err(Error::DirectChat { chat, action: "have roles" });
            }
            if actor_role != Role::Owner {
                return Err(refuse("change roles", "only the owner may"));
            }
            let Some(current) = roster.role(username) else {
                return Err(Error::NotMember { chat, username: username.clone() });
            };
            if username == by {
                if *role != Role::Owner {
                    return Err(refuse(
                        "give up ownership",
                        "make another member owner first (that hands ownership over)",
                    ));
                }
            } else if current != *role {
                plan.effects.push(Effect::SetRole(username.clone(), *role));
                plan.drafts.push(Draft::membership(EventKind::Role, username, Some(*role)));
                if *role == Role::Owner {
                    // One owner at a time: handing ownership over makes the old owner an admin.
                    plan.effects.push(Effect::SetRole(by.to_owned(), Role::Admin));
                    plan.drafts.push(Draft::membership(EventKind::Role, by, Some(Role::Admin)));
                }
            }
        }
        ChatChange::Describe { name, topic } => {
            if direct {
                return Err(Error::DirectChat { chat, action: "be renamed" });
            }
            if !actor_role.manages() {
                return Err(refuse("rename the group", "only an owner or admin may"));
            }
            let cleared = |text: &Option<String>| text.clone().filter(|text| !text.is_empty());
            if name.is_some() && cleared(name) != roster.name {
                plan.effects.push(Effect::SetName(cleared(name)));
                plan.drafts.push(Draft::text(EventKind::Rename, name.as_deref()));
            }
            if topic.is_some() && cleared(topic) != roster.topic {
                plan.effects.push(Effect::SetTopic(cleared(topic)));
                plan.drafts.push(Draft::text(EventKind::Topic, topic.as_deref()));
            }
        }
    }
    Ok(plan)
}

/// The answer to a change retried under the key of an event `by` stored in the chat (of kind
/// `stored`): nothing is applied again; `chat` is the chat as it now is. A retried leave is
/// answered although `by` has left; any other retry needs `by` to be a member still (a member
/// since removed learns nothing of the chat).
/// The item stored under an idempotency key, as much of it as a retry is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyedItem {
    pub kind: EventKind,
    pub target: Option<Seq>,
    pub member: Option<String>,
}

pub(crate) fn replay(
    chat: ChatId,
    roster: &Roster,
    by: &str,
    change: &ChatChange,
    stored: &KeyedItem,
    key: Option<&str>,
    view: Chat,
) -> Result<ChatChanged> {
    // A non-member learns nothing, not even that the key was theirs: only a `leave_chat`'s own
    // repeat is answered (with `ok`, no chat) once they are out.
    let same = change.records(by, stored.kind, stored.member.as_deref());
    let member = roster.role(by).is_some();
    match (same, member) {
        (true, _) if matches!(change, ChatChange::Leave) => {}
        (true, true) => {}
        (false, true) => {
            let client_id = key.unwrap_or_default().to_owned();
            return Err(Error::ClientIdReused { chat, client_id });
        }
        (_, false) => return Err(Error::NotParticipant { chat, username: by.to_owned() }),
    }
    Ok(ChatChanged {
        chat: view,
        events: Vec::new(),
        gone: Vec::new(),
        added: Vec::new(),
        deleted: false,
        replayed: true,
    })
}

/// The answer to an edit or deletion of post `seq` retried under the key of an item stored as
/// `(kind, target)`: the post as it now is, and no event.
pub(crate) fn revision_replay(
    chat: ChatId,
    (kind, seq): (EventKind, Seq),
    stored: KeyedItem,
    key: Option<&str>,
    message: Message,
) -> Result<Revised> {
    if (stored.kind, stored.target) != (kind, Some(seq)) {
        return Err(Error::ClientIdReused { chat, client_id: key.unwrap_or_default().to_owned() });
    }
    Ok(Revised { message, event: None })
}

/// Whether `by` may delete the chat: either member of a direct chat, a group's owner.
pub(crate) fn may_delete(chat: ChatId, roster: &Roster, by: &str) -> Result<()> {
    match roster.role(by) {
        None => Err(Error::NotParticipant { chat, username: by.to_owned() }),
        Some(_) if roster.kind == ChatKind::Direct => Ok(()),
        Some(Role::Owner) => Ok(()),
        Some(_) => Err(Error::NotAllowed {
            chat,
            username: by.to_owned(),
            action: "delete the group",
            reason: "only the owner may",
        }),
    }
}

/// What an owner or admin does to let others into a group, for [`may_admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Invite a user.
    Invite,
    /// Create, list or revoke invite links.
    Links,
}

/// Whether `by` may invite users to the chat, or manage its invite links: an owner or admin of
/// a group. A non-member is `NotParticipant` (told nothing of the chat), a plain member
/// `NotAllowed`, a direct chat `DirectChat`.
pub(crate) fn may_admit(chat: ChatId, roster: &Roster, by: &str, what: Admission) -> Result<()> {
    let Some(role) = roster.role(by) else {
        return Err(Error::NotParticipant { chat, username: by.to_owned() });
    };
    let (action, direct) = match what {
        Admission::Invite => ("invite users", "take invitations"),
        Admission::Links => ("manage invite links", "have invite links"),
    };
    if roster.kind == ChatKind::Direct {
        return Err(Error::DirectChat { chat, action: direct });
    }
    if !role.manages() {
        return Err(Error::NotAllowed {
            chat,
            username: by.to_owned(),
            action,
            reason: "only an owner or admin may",
        });
    }
    Ok(())
}

/// Whether `invitee` may be invited to the chat: not a member already.
pub(crate) fn invitable(chat: ChatId, roster: &Roster, invitee: &str) -> Result<()> {
    match roster.role(invitee) {
        Some(_) => Err(Error::AlreadyMember { chat, username: invitee.to_owned() }),
        None => Ok(()),
    }
}

/// `joiner` joins a group on their own (accepting an invitation, or with an invite link): a
/// plain member, recorded by a `join` event that they author, if they are not a member yet
/// and the group has room for one more of at most `max`.
pub(crate) fn join(chat: ChatId, roster: &Roster, joiner: &str, max: usize) -> Result<Plan> {
    if roster.kind == ChatKind::Direct {
        return Err(Error::DirectChat { chat, action: "gain members" });
    }
    invitable(chat, roster, joiner)?;
    let size = roster.members.len() + 1;
    if size > max {
        return Err(Error::TooManyParticipants { chat, size, limit: max });
    }
    Ok(Plan {
        effects: vec![Effect::Add(joiner.to_owned(), Role::Member)],
        drafts: vec![Draft::membership(EventKind::Join, joiner, Some(Role::Member))],
        gone: Vec::new(),
        added: vec![joiner.to_owned()],
    })
}

/// Whether `by` may give the answer `answer` (accepted or declined) to invitation `id`,
/// addressed to `invitee` and now in `state`: its invitee, while it is pending (`Ok(true)`). The
/// invitee giving the same answer again — a retry whose first reply was lost — is answered as
/// the first time without changing anything (`Ok(false)`). Anyone else, like another answer to
/// an invitation answered already, gets `InvitationNotFound`, so that ids reveal nothing.
pub(crate) fn may_answer(
    id: i64,
    invitee: &str,
    state: InvitationState,
    by: &str,
    answer: InvitationState,
) -> Result<bool> {
    match state {
        _ if invitee != by => Err(Error::InvitationNotFound(id)),
        InvitationState::Pending => Ok(true),
        answered if answered == answer => Ok(false),
        _ => Err(Error::InvitationNotFound(id)),
    }
}

/// The answer to a join by `by` who is a member already (a retried accept, a join by link
/// repeated): the chat as it now is, nothing changed.
pub(crate) fn already_joined(view: Chat) -> ChatChanged {
    ChatChanged {
        chat: view,
        events: Vec::new(),
        gone: Vec::new(),
        added: Vec::new(),
        deleted: false,
        replayed: true,
    }
}

/// Whether `by` may cancel invitation `id` to the chat, made by `inviter` and now in `state`:
/// while it is pending, its inviter (even one no longer in the chat: withdrawing only takes a
/// way in away) or an owner or admin of the chat. A plain member is `NotAllowed`; anyone else
/// (the invitee included: they decline instead) gets `InvitationNotFound`.
pub(crate) fn may_cancel(
    chat: ChatId,
    roster: &Roster,
    (id, inviter, state): (i64, &str, InvitationState),
    by: &str,
) -> Result<()> {
    if state != InvitationState::Pending {
        return Err(Error::InvitationNotFound(id));
    }
    match roster.role(by) {
        _ if inviter == by => Ok(()),
        Some(role) if role.manages() => Ok(()),
        Some(_) => Err(Error::NotAllowed {
            chat,
            username: by.to_owned(),
            action: "cancel others' invitations",
            reason: "only the inviter, an owner or an admin may",
        }),
        None => Err(Error::InvitationNotFound(id)),
    }
}

/// An invite link as stored, for [`link_usable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkUse {
    /// Whether it was revoked.
    pub revoked: bool,
    /// The first moment it no longer joins anyone.
    pub expires_at: Timestamp,
    /// How many joins it allows in all.
    pub max_uses: Option<u32>,
    /// How many it has had.
    pub uses: u32,
}

/// Whether a member's repeat of a join by link is answered (as a replay) at `at`: while the link
/// is neither revoked nor expired — used up it may be, by that very join. A dead link is the
/// same `InviteLinkNotFound` for members as for anyone.
pub(crate) fn link_repeatable(link: &LinkUse, at: Timestamp) -> Result<()> {
    if link.revoked || at >= link.expires_at {
        return Err(Error::InviteLinkNotFound);
    }
    Ok(())
}

/// Whether an invite link joins someone at `at`: not revoked, not expired, not used up. Every
/// refusal is the same `InviteLinkNotFound` as for an unknown token, so that the holder of a
/// dead link learns nothing of it or its chat.
pub(crate) fn link_usable(link: &LinkUse, at: Timestamp) -> Result<()> {
    let used_up = link.max_uses.is_some_and(|max| link.uses >= max);
    if link.revoked || at >= link.expires_at || used_up {
        return Err(Error::InviteLinkNotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: ChatId = ChatId(7);

    fn group(members: &[(&str, Role)]) -> Roster {
        Roster {
            kind: ChatKind::Group,
            name: None,
            topic: None,
            members: members.iter().map(|(name, role)| ((*name).to_owned(), *role)).collect(),
        }
    }

    fn team() -> Roster {
        group(&[
            ("olga", Role::Owner),
            ("bob", Role::Member),
            ("ada", Role::Admin),
            ("cy", Role::Admin),
            ("dan", Role::Member),
        ])
    }

    fn remove(name: &str) -> ChatChange {
        ChatChange::Remove { username: name.to_owned() }
    }

    fn set_role(name: &str, role: Role) -> ChatChange {
        ChatChange::SetRole { username: name.to_owned(), role }
    }

    fn forbidden(result: Result<Plan>) -> bool {
        matches!(result, Err(Error::NotAllowed { .. } | Error::NotParticipant { .. }))
    }

    #[test]
    fn who_may_remove_whom() {
        let roster = team();
        assert!(plan(CHAT, &roster, "olga", &remove("ada")).is_ok(), "owner removes an admin");
        assert!(plan(CHAT, &roster, "ada", &remove("bob")).is_ok(), "admin removes a member");
        assert!(forbidden(plan(CHAT, &roster, "ada", &remove("cy"))), "admin, admin");
        assert!(forbidden(plan(CHAT, &roster, "ada", &remove("olga"))), "admin, owner");
        assert!(forbidden(plan(CHAT, &roster, "bob", &remove("dan"))), "member, member");
        assert!(forbidden(plan(CHAT, &roster, "eve", &remove("dan"))), "non-member");
        assert!(matches!(
            plan(CHAT, &roster, "olga", &remove("eve")),
            Err(Error::NotMember { .. })
        ));
    }

    #[test]
    fn the_last_owner_leaving_hands_over_to_the_oldest_admin_else_the_oldest_member() {
        let plan_of = |roster: &Roster| plan(CHAT, roster, "olga", &ChatChange::Leave).unwrap();
        let left = plan_of(&team());
        assert_eq!(left.gone, ["olga"]);
        assert_eq!(
            left.effects,
            [Effect::Remove("olga".into()), Effect::SetRole("ada".into(), Role::Owner)]
        );
        assert_eq!(left.drafts[0].kind, EventKind::Leave);
        assert_eq!(left.drafts[1].member.as_deref(), Some("ada"));
        let no_admin = group(&[("olga", Role::Owner), ("bob", Role::Member), ("al", Role::Member)]);
        assert_eq!(plan_of(&no_admin).effects[1], Effect::SetRole("bob".into(), Role::Owner));
        let alone = group(&[("olga", Role::Owner)]);
        assert_eq!(plan_of(&alone).effects, [Effect::DeleteChat], "the last one out deletes it");
        assert!(plan_of(&alone).drafts.is_empty());
    }

    #[test]
    fn making_someone_owner_hands_ownership_over() {
        let handed = plan(CHAT, &team(), "olga", &set_role("bob", Role::Owner)).unwrap();
        assert_eq!(
            handed.effects,
            [
                Effect::SetRole("bob".into(), Role::Owner),
                Effect::SetRole("olga".into(), Role::Admin)
            ]
        );
        assert!(forbidden(plan(CHAT, &team(), "ada", &set_role("bob", Role::Admin))));
        assert!(forbidden(plan(CHAT, &team(), "olga", &set_role("olga", Role::Member))));
        let same = plan(CHAT, &team(), "olga", &set_role("ada", Role::Admin)).unwrap();
        assert_eq!(same, Plan::default(), "nothing changes, nothing is recorded");
    }

    #[test]
    fn adding_and_renaming_need_a_managing_role_and_a_group() {
        let add = ChatChange::Add { usernames: vec!["bob".into(), "zed".into()], max: 10 };
        let added = plan(CHAT, &team(), "cy", &add).unwrap();
        assert_eq!(added.added, ["zed"], "members already in are ignored");
        assert!(forbidden(plan(CHAT, &team(), "dan", &add)));
        let full = ChatChange::Add { usernames: vec!["zed".into()], max: 5 };
        assert!(matches!(
            plan(CHAT, &team(), "olga", &full),
            Err(Error::TooManyParticipants { size: 6, .. })
        ));
        let rename = ChatChange::Describe { name: Some("Rustaceans".into()), topic: None };
        let renamed = plan(CHAT, &team(), "ada", &rename).unwrap();
        assert_eq!(renamed.effects, [Effect::SetName(Some("Rustaceans".into()))]);
        assert!(forbidden(plan(CHAT, &team(), "bob", &rename)));
        let direct =
            Roster { kind: ChatKind::Direct, ..group(&[("a", Role::Member), ("b", Role::Member)]) };
        assert!(matches!(plan(CHAT, &direct, "a", &add), Err(Error::DirectChat { .. })));
        assert!(matches!(plan(CHAT, &direct, "a", &rename), Err(Error::DirectChat { .. })));
        assert_eq!(plan(CHAT, &direct, "a", &ChatChange::Leave).unwrap().gone, ["a"]);
    }

    #[test]
    fn deletion_is_for_a_direct_chats_members_and_a_groups_owner() {
        let direct =
            Roster { kind: ChatKind::Direct, ..group(&[("a", Role::Member), ("b", Role::Member)]) };
        assert!(may_delete(CHAT, &direct, "b").is_ok());
        assert!(may_delete(CHAT, &team(), "olga").is_ok());
        assert!(matches!(may_delete(CHAT, &team(), "ada"), Err(Error::NotAllowed { .. })));
        assert!(matches!(may_delete(CHAT, &team(), "eve"), Err(Error::NotParticipant { .. })));
    }

    #[test]
    fn owners_and_admins_of_a_group_admit_others() {
        for what in [Admission::Invite, Admission::Links] {
            assert!(may_admit(CHAT, &team(), "olga", what).is_ok());
            assert!(may_admit(CHAT, &team(), "ada", what).is_ok());
            assert!(matches!(may_admit(CHAT, &team(), "bob", what), Err(Error::NotAllowed { .. })));
            assert!(matches!(
                may_admit(CHAT, &team(), "eve", what),
                Err(Error::NotParticipant { .. })
            ));
            let direct = Roster { kind: ChatKind::Direct, ..team() };
            assert!(matches!(
                may_admit(CHAT, &direct, "olga", what),
                Err(Error::DirectChat { .. })
            ));
        }
        assert!(invitable(CHAT, &team(), "eve").is_ok());
        assert!(matches!(invitable(CHAT, &team(), "bob"), Err(Error::AlreadyMember { .. })));
    }

    #[test]
    fn joining_adds_a_plain_member_who_authors_the_join() {
        let joined = join(CHAT, &team(), "eve", 6).unwrap();
        assert_eq!(joined.effects, [Effect::Add("eve".into(), Role::Member)]);
        assert_eq!(joined.drafts, [Draft::membership(EventKind::Join, "eve", Some(Role::Member))]);
        assert_eq!(joined.added, ["eve"]);
        assert!(matches!(join(CHAT, &team(), "bob", 6), Err(Error::AlreadyMember { .. })));
        assert!(matches!(
            join(CHAT, &team(), "eve", 5),
            Err(Error::TooManyParticipants { size: 6, limit: 5, .. })
        ));
    }

    #[test]
    fn only_the_invitee_answers_once_and_the_same_answer_again_is_a_repeat() {
        use InvitationState::*;
        assert_eq!(may_answer(1, "eve", Pending, "eve", Accepted).ok(), Some(true));
        assert_eq!(may_answer(1, "eve", Accepted, "eve", Accepted).ok(), Some(false), "a repeat");
        assert_eq!(may_answer(1, "eve", Declined, "eve", Declined).ok(), Some(false), "a repeat");
        for (state, by, answer) in [
            (Pending, "bob", Accepted),
            (Accepted, "eve", Declined),
            (Declined, "eve", Accepted),
            (Cancelled, "eve", Accepted),
            (Accepted, "bob", Accepted),
        ] {
            let answered = may_answer(1, "eve", state, by, answer);
            assert!(matches!(answered, Err(Error::InvitationNotFound(1))), "{state:?} {by}");
        }
    }

    #[test]
    fn the_inviter_or_a_manager_cancels() {
        use InvitationState::*;
        let cancel = |by, state| may_cancel(CHAT, &team(), (1, "ada", state), by);
        assert!(cancel("ada", Pending).is_ok(), "the inviter");
        assert!(cancel("olga", Pending).is_ok(), "the owner");
        assert!(cancel("cy", Pending).is_ok(), "another admin");
        assert!(matches!(cancel("bob", Pending), Err(Error::NotAllowed { .. })));
        assert!(matches!(cancel("eve", Pending), Err(Error::InvitationNotFound(1))));
        assert!(matches!(cancel("olga", Cancelled), Err(Error::InvitationNotFound(1))));
        let gone = may_cancel(CHAT, &team(), (1, "zoe", Pending), "zoe");
        assert!(gone.is_ok(), "an inviter no longer in the chat may still withdraw it");
    }

    #[test]
    fn a_link_joins_until_revoked_expired_or_used_up() {
        let t = Timestamp::from_unix_millis;
        let link = LinkUse { revoked: false, expires_at: t(100), max_uses: Some(2), uses: 1 };
        assert!(link_usable(&link, t(99)).is_ok());
        let dead = [
            (link, t(100)),
            (LinkUse { revoked: true, ..link }, t(0)),
            (LinkUse { uses: 2, ..link }, t(0)),
        ];
        for (link, at) in dead {
            assert!(matches!(link_usable(&link, at), Err(Error::InviteLinkNotFound)), "{link:?}");
        }
        assert!(link_usable(&LinkUse { max_uses: None, uses: 9, ..link }, t(0)).is_ok());
    }
}
