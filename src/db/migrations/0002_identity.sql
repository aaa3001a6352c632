CREATE TABLE `iam_attachments` (
	`account_id` text NOT NULL,
	`principal_kind` text NOT NULL,
	`principal_name` text NOT NULL,
	`policy_arn` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `principal_kind`, `principal_name`, `policy_arn`)
);
--> statement-breakpoint
CREATE INDEX `iam_attachments_policy` ON `iam_attachments` (`account_id`,`policy_arn`);--> statement-breakpoint
CREATE TABLE `iam_inline_policies` (
	`account_id` text NOT NULL,
	`principal_kind` text NOT NULL,
	`principal_name` text NOT NULL,
	`policy_name` text NOT NULL,
	`document` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `principal_kind`, `principal_name`, `policy_name`)
);
--> statement-breakpoint
CREATE TABLE `iam_instance_profiles` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`profile_id` text NOT NULL,
	`path` text DEFAULT '/' NOT NULL,
	`role_name` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `name`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `iam_instance_profiles_id` ON `iam_instance_profiles` (`profile_id`);--> statement-breakpoint
CREATE INDEX `iam_instance_profiles_role` ON `iam_instance_profiles` (`account_id`,`role_name`);--> statement-breakpoint
CREATE TABLE `iam_policies` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`policy_id` text NOT NULL,
	`path` text DEFAULT '/' NOT NULL,
	`description` text,
	`default_version` text NOT NULL,
	`next_version` integer DEFAULT 2 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `name`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `iam_policies_id` ON `iam_policies` (`policy_id`);--> statement-breakpoint
CREATE TABLE `iam_policy_versions` (
	`account_id` text NOT NULL,
	`policy_name` text NOT NULL,
	`version_id` text NOT NULL,
	`document` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `policy_name`, `version_id`)
);
--> statement-breakpoint
CREATE TABLE `iam_profile_associations` (
	`association_id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`profile_name` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `iam_profile_associations_instance` ON `iam_profile_associations` (`instance_id`);--> statement-breakpoint
CREATE TABLE `iam_roles` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`role_id` text NOT NULL,
	`path` text DEFAULT '/' NOT NULL,
	`assume_role_policy` text NOT NULL,
	`description` text,
	`max_session_duration` integer DEFAULT 3600 NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `name`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `iam_roles_id` ON `iam_roles` (`role_id`);--> statement-breakpoint
CREATE TABLE `iam_tags` (
	`account_id` text NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`account_id`, `kind`, `name`, `key`)
);
--> statement-breakpoint
CREATE TABLE `iam_users` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`user_id` text NOT NULL,
	`path` text DEFAULT '/' NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `name`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `iam_users_id` ON `iam_users` (`user_id`);--> statement-breakpoint
CREATE TABLE `sts_sessions` (
	`access_key_id` text PRIMARY KEY NOT NULL,
	`secret_access_key` text NOT NULL,
	`token_hash` text NOT NULL,
	`account_id` text NOT NULL,
	`kind` text NOT NULL,
	`name` text,
	`session_name` text,
	`principal_id` text,
	`source` text,
	`session_policies` text,
	`tags` text,
	`expires_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sts_sessions_expiry` ON `sts_sessions` (`expires_at`);--> statement-breakpoint
CREATE INDEX `sts_sessions_source` ON `sts_sessions` (`account_id`,`source`);--> statement-breakpoint
ALTER TABLE `access_keys` ADD `user_name` text;--> statement-breakpoint
ALTER TABLE `access_keys` ADD `status` text DEFAULT 'Active' NOT NULL;--> statement-breakpoint
ALTER TABLE `access_keys` ADD `last_used_at` integer;--> statement-breakpoint
ALTER TABLE `access_keys` ADD `last_used_service` text;--> statement-breakpoint
ALTER TABLE `access_keys` ADD `last_used_region` text;--> statement-breakpoint
CREATE INDEX `access_keys_user` ON `access_keys` (`account_id`,`user_name`);