//! The mailbox hub: which connections have which mailbox selected, and the
//! fan-out of "this mailbox changed" to them once a change is durable.
//!
//! This is the publishing half of DESIGN.md's mailbox actors. Ordering of
//! changes is the store writer's job; what changed is read from the store
//! (MODSEQ), so a notification carries only the mailbox id and a lost or
//! late one costs nothing but latency: the session catches up at its next
//! command anyway.

use std::collections::HashMap;

use actix::prelude::*;

/// Sent to a connection whose selected mailbox changed.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct MailboxChanged {
    pub mailbox_id: u64,
}

/// A connection now watches `mailbox_id` (its selected mailbox), or
/// nothing when `None`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub conn_id: u64,
    pub mailbox_id: Option<u64>,
    pub recipient: Recipient<MailboxChanged>,
}

/// These mailboxes changed (and the change is on disk).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Changed {
    pub mailbox_ids: Vec<u64>,
}

#[derive(Default)]
pub struct Hub {
    watchers: HashMap<u64, HashMap<u64, Recipient<MailboxChanged>>>,
    watching: HashMap<u64, u64>,
}

impl Actor for Hub {
    type Context = Context<Self>;
}

impl Handler<Watch> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Watch, _ctx: &mut Context<Self>) {
        if let Some(old) = self.watching.remove(&msg.conn_id)
            && let Some(conns) = self.watchers.get_mut(&old)
        {
            conns.remove(&msg.conn_id);
            if conns.is_empty() {
                self.watchers.remove(&old);
            }
        }
        if let Some(mailbox_id) = msg.mailbox_id {
            self.watching.insert(msg.conn_id, mailbox_id);
            self.watchers
                .entry(mailbox_id)
                .or_default()
                .insert(msg.conn_id, msg.recipient);
        }
    }
}

impl Handler<Changed> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Changed, _ctx: &mut Context<Self>) {
        for mailbox_id in msg.mailbox_ids {
            if let Some(conns) = self.watchers.get(&mailbox_id) {
                for recipient in conns.values() {
                    recipient.do_send(MailboxChanged { mailbox_id });
                }
            }
        }
    }
}
