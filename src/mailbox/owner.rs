//! The owner of one open mailbox: its subscribers (the connections that
//! have it selected or are IDLE on it) and the fan-out of "changed" to
//! them once a write to it is durable. Started and stopped by `Registry`.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;

use super::registry::{MailboxChanged, OwnerIdle, Registry};

/// A connection subscribes.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Subscribe {
    pub conn_id: u64,
    pub recipient: Recipient<MailboxChanged>,
}

/// A connection leaves.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Unsubscribe {
    pub conn_id: u64,
}

/// The mailbox changed durably: tell every subscriber.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Publish;

/// The registry forgot this owner.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Stop;

pub struct Owner {
    mailbox_id: u64,
    registry: Addr<Registry>,
    subscribers: HashMap<u64, Recipient<MailboxChanged>>,
    idle_check: Option<SpawnHandle>,
    idle_stop: Duration,
}

impl Owner {
    pub(super) fn new(mailbox_id: u64, registry: Addr<Registry>, idle_stop: Duration) -> Owner {
        Owner {
            mailbox_id,
            registry,
            subscribers: HashMap::new(),
            idle_check: None,
            idle_stop,
        }
    }
}

impl Actor for Owner {
    type Context = Context<Self>;
}

impl Handler<Subscribe> for Owner {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) {
        if let Some(h) = self.idle_check.take() {
            ctx.cancel_future(h);
        }
        self.subscribers.insert(msg.conn_id, msg.recipient);
    }
}

impl Handler<Unsubscribe> for Owner {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Context<Self>) {
        self.subscribers.remove(&msg.conn_id);
        if self.subscribers.is_empty() && self.idle_check.is_none() {
            self.idle_check = Some(ctx.run_later(self.idle_stop, |owner, _ctx| {
                owner.idle_check = None;
                if owner.subscribers.is_empty() {
                    owner.registry.do_send(OwnerIdle {
                        mailbox_id: owner.mailbox_id,
                    });
                }
            }));
        }
    }
}

impl Handler<Publish> for Owner {
    type Result = ();

    fn handle(&mut self, _msg: Publish, _ctx: &mut Context<Self>) {
        let changed = MailboxChanged {
            mailbox_id: self.mailbox_id,
        };
        for recipient in self.subscribers.values() {
            recipient.do_send(changed);
        }
    }
}

impl Handler<Stop> for Owner {
    type Result = ();

    fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
