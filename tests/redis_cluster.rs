//! Issue #14 on a three-node Redis Cluster (`--store redis://…,redis://…,redis://…`): the
//! shared dict/queue/lock scenario, the 4 x 500 locked counter through two front-ends, the lock
//! lease of a killed front-end and a front-end restart.
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

#[test]
fn a_lock_held_through_a_killed_frontend_on_a_cluster_is_released_after_the_lease() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    redis_support::lease_scenario(&cluster.urls());
}

#[test]
fn a_new_frontend_on_a_cluster_serves_what_a_killed_one_wrote() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    redis_support::frontend_restart_scenario(&cluster.urls());
}
