//! Issue #14 on a three-node Redis Cluster (`--store redis://…,redis://…,redis://…`): the
//! shared dict/queue/lock scenario and the 4 x 500 locked counter through two front-ends.
//! Skips, printing why, when the cluster cannot be formed.

mod common;
mod redis_support;

use common::redis::RedisCluster;

#[test]
fn two_frontends_on_a_cluster_share_dict_queue_and_lock() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    redis_support::frontends_scenario(&cluster.urls());
}

#[test]
fn locked_increments_through_two_frontends_on_a_cluster_are_never_lost() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    redis_support::counter_scenario(&cluster.urls());
}
