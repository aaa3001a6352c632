CREATE TABLE `access_keys` (
	`access_key_id` text PRIMARY KEY NOT NULL,
	`secret_access_key` text NOT NULL,
	`account_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `function_versions` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`config` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `name`, `version`)
);
--> statement-breakpoint
CREATE TABLE `functions` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`runtime` text NOT NULL,
	`handler` text NOT NULL,
	`role` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`memory_mib` integer NOT NULL,
	`timeout_sec` integer NOT NULL,
	`environment` text NOT NULL,
	`mode` text NOT NULL,
	`code_sha256` text NOT NULL,
	`code_size` integer NOT NULL,
	`revision` text NOT NULL,
	`last_version` integer DEFAULT 0 NOT NULL,
	`url_id` text,
	`url_auth` text,
	`url_created_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `name`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `functions_url` ON `functions` (`url_id`);--> statement-breakpoint
CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`architecture` text NOT NULL,
	`platform` text DEFAULT 'linux' NOT NULL,
	`boot_mode` text DEFAULT 'legacy-bios' NOT NULL,
	`state` text NOT NULL,
	`is_public` integer DEFAULT true NOT NULL,
	`root_path` text NOT NULL,
	`size_bytes` integer DEFAULT 0 NOT NULL,
	`source` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `images_owner_name` ON `images` (`owner_id`,`name`);--> statement-breakpoint
CREATE TABLE `instances` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`reservation_id` text NOT NULL,
	`launch_index` integer NOT NULL,
	`image_id` text NOT NULL,
	`instance_type` text NOT NULL,
	`runtime` text NOT NULL,
	`key_name` text,
	`state` text NOT NULL,
	`state_transition_reason` text DEFAULT '' NOT NULL,
	`state_reason_code` text,
	`state_reason_message` text,
	`launch_time` integer NOT NULL,
	`subnet_id` text NOT NULL,
	`vpc_id` text NOT NULL,
	`availability_zone` text NOT NULL,
	`private_ip` text NOT NULL,
	`public_ip` text,
	`mac_address` text NOT NULL,
	`network_interface_id` text NOT NULL,
	`security_group_ids` text NOT NULL,
	`client_token` text,
	`user_data` text,
	`root_volume_id` text NOT NULL,
	`root_volume_size_gib` integer NOT NULL,
	`attributes` text NOT NULL,
	`terminated_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `instances_account_state` ON `instances` (`account_id`,`state`);--> statement-breakpoint
CREATE INDEX `instances_reservation` ON `instances` (`reservation_id`);--> statement-breakpoint
CREATE INDEX `instances_terminated` ON `instances` (`terminated_at`);--> statement-breakpoint
CREATE INDEX `instances_account_launch` ON `instances` (`account_id`,`launch_time`,`reservation_id`,`launch_index`);--> statement-breakpoint
CREATE TABLE `internet_gateways` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`vpc_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `internet_gateways_vpc` ON `internet_gateways` (`vpc_id`);--> statement-breakpoint
CREATE TABLE `key_pairs` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`key_type` text NOT NULL,
	`fingerprint` text NOT NULL,
	`public_key` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `key_pairs_account_name` ON `key_pairs` (`account_id`,`name`);--> statement-breakpoint
CREATE TABLE `reservations` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`client_token` text,
	`request_hash` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reservations_token` ON `reservations` (`account_id`,`client_token`);--> statement-breakpoint
CREATE TABLE `security_group_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`group_id` text NOT NULL,
	`is_egress` integer NOT NULL,
	`protocol` text NOT NULL,
	`from_port` integer,
	`to_port` integer,
	`cidr` text,
	`ref_group_id` text,
	`description` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `security_group_rules_group` ON `security_group_rules` (`group_id`);--> statement-breakpoint
CREATE TABLE `security_groups` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`vpc_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `snapshots` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`volume_id` text NOT NULL,
	`size_gib` integer NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `snapshots_account` ON `snapshots` (`account_id`);--> statement-breakpoint
CREATE TABLE `subnets` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`vpc_id` text NOT NULL,
	`cidr` text NOT NULL,
	`availability_zone` text NOT NULL,
	`is_default` integer NOT NULL,
	`created_at` integer NOT NULL,
	`map_public_ip` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tags` (
	`account_id` text NOT NULL,
	`resource_id` text NOT NULL,
	`resource_type` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`resource_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `tags_account_key` ON `tags` (`account_id`,`key`);--> statement-breakpoint
CREATE TABLE `volumes` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`availability_zone` text NOT NULL,
	`size_gib` integer NOT NULL,
	`volume_type` text NOT NULL,
	`iops` integer,
	`throughput` integer,
	`snapshot_id` text,
	`state` text NOT NULL,
	`instance_id` text,
	`device` text,
	`attach_state` text,
	`attach_time` integer,
	`delete_on_termination` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `volumes_account` ON `volumes` (`account_id`);--> statement-breakpoint
CREATE INDEX `volumes_instance` ON `volumes` (`instance_id`);--> statement-breakpoint
CREATE TABLE `vpcs` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`cidr` text NOT NULL,
	`is_default` integer NOT NULL,
	`created_at` integer NOT NULL,
	`dns_support` integer DEFAULT true NOT NULL,
	`dns_hostnames` integer DEFAULT false NOT NULL,
	`address_usage_metrics` integer DEFAULT false NOT NULL
);
