CREATE TABLE "access_keys" (
	"access_key_id" text PRIMARY KEY NOT NULL,
	"secret_access_key" text NOT NULL,
	"account_id" text NOT NULL,
	"user_name" text,
	"status" text DEFAULT 'Active' NOT NULL,
	"last_used_at" bigint,
	"last_used_service" text,
	"last_used_region" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "addresses" (
	"allocation_id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"public_ip" text NOT NULL,
	"instance_id" text,
	"network_interface_id" text,
	"private_ip" text,
	"association_id" text,
	"nat_gateway_id" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "client_tokens" (
	"account_id" text NOT NULL,
	"operation" text NOT NULL,
	"token" text NOT NULL,
	"request_hash" text NOT NULL,
	"resource_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "client_tokens_account_id_operation_token_pk" PRIMARY KEY("account_id","operation","token")
);
--> statement-breakpoint
CREATE TABLE "function_aliases" (
	"account_id" text NOT NULL,
	"function_name" text NOT NULL,
	"name" text NOT NULL,
	"version" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"extra_version" text,
	"extra_weight" double precision,
	"revision" text NOT NULL,
	"url_id" text,
	"url_auth" text,
	"url_created_at" bigint,
	"created_at" bigint NOT NULL,
	CONSTRAINT "function_aliases_account_id_function_name_name_pk" PRIMARY KEY("account_id","function_name","name")
);
--> statement-breakpoint
CREATE TABLE "function_policies" (
	"account_id" text NOT NULL,
	"function_name" text NOT NULL,
	"qualifier" text NOT NULL,
	"statements" json NOT NULL,
	"revision" text NOT NULL,
	CONSTRAINT "function_policies_account_id_function_name_qualifier_pk" PRIMARY KEY("account_id","function_name","qualifier")
);
--> statement-breakpoint
CREATE TABLE "function_versions" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"version" bigint NOT NULL,
	"config" json NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "function_versions_account_id_name_version_pk" PRIMARY KEY("account_id","name","version")
);
--> statement-breakpoint
CREATE TABLE "functions" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"runtime" text NOT NULL,
	"handler" text NOT NULL,
	"role" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"memory_mib" bigint NOT NULL,
	"timeout_sec" bigint NOT NULL,
	"environment" json NOT NULL,
	"mode" text NOT NULL,
	"code_sha256" text NOT NULL,
	"code_size" bigint NOT NULL,
	"revision" text NOT NULL,
	"layers" json DEFAULT '[]'::json NOT NULL,
	"last_version" bigint DEFAULT 0 NOT NULL,
	"url_id" text,
	"url_auth" text,
	"url_created_at" bigint,
	"reserved_concurrency" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "functions_account_id_name_pk" PRIMARY KEY("account_id","name")
);
--> statement-breakpoint
CREATE TABLE "hosts" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"availability_zone" text NOT NULL,
	"address" text,
	"runtimes" json NOT NULL,
	"accel" text NOT NULL,
	"vcpus" bigint NOT NULL,
	"memory_mib" bigint NOT NULL,
	"state" text NOT NULL,
	"boot_id" text,
	"heartbeat_at" bigint NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "iam_attachments" (
	"account_id" text NOT NULL,
	"principal_kind" text NOT NULL,
	"principal_name" text NOT NULL,
	"policy_arn" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "iam_attachments_account_id_principal_kind_principal_name_policy_arn_pk" PRIMARY KEY("account_id","principal_kind","principal_name","policy_arn")
);
--> statement-breakpoint
CREATE TABLE "iam_inline_policies" (
	"account_id" text NOT NULL,
	"principal_kind" text NOT NULL,
	"principal_name" text NOT NULL,
	"policy_name" text NOT NULL,
	"document" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "iam_inline_policies_account_id_principal_kind_principal_name_policy_name_pk" PRIMARY KEY("account_id","principal_kind","principal_name","policy_name")
);
--> statement-breakpoint
CREATE TABLE "iam_instance_profiles" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"profile_id" text NOT NULL,
	"path" text DEFAULT '/' NOT NULL,
	"role_name" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "iam_instance_profiles_account_id_name_pk" PRIMARY KEY("account_id","name")
);
--> statement-breakpoint
CREATE TABLE "iam_policies" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"policy_id" text NOT NULL,
	"path" text DEFAULT '/' NOT NULL,
	"description" text,
	"default_version" text NOT NULL,
	"next_version" bigint DEFAULT 2 NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "iam_policies_account_id_name_pk" PRIMARY KEY("account_id","name")
);
--> statement-breakpoint
CREATE TABLE "iam_policy_versions" (
	"account_id" text NOT NULL,
	"policy_name" text NOT NULL,
	"version_id" text NOT NULL,
	"document" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "iam_policy_versions_account_id_policy_name_version_id_pk" PRIMARY KEY("account_id","policy_name","version_id")
);
--> statement-breakpoint
CREATE TABLE "iam_profile_associations" (
	"association_id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"profile_name" text NOT NULL,
	"state" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "iam_roles" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"role_id" text NOT NULL,
	"path" text DEFAULT '/' NOT NULL,
	"assume_role_policy" text NOT NULL,
	"description" text,
	"max_session_duration" bigint DEFAULT 3600 NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "iam_roles_account_id_name_pk" PRIMARY KEY("account_id","name")
);
--> statement-breakpoint
CREATE TABLE "iam_tags" (
	"account_id" text NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"key" text NOT NULL,
	"value" text NOT NULL,
	CONSTRAINT "iam_tags_account_id_kind_name_key_pk" PRIMARY KEY("account_id","kind","name","key")
);
--> statement-breakpoint
CREATE TABLE "iam_users" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"user_id" text NOT NULL,
	"path" text DEFAULT '/' NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "iam_users_account_id_name_pk" PRIMARY KEY("account_id","name")
);
--> statement-breakpoint
CREATE TABLE "images" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"architecture" text NOT NULL,
	"platform" text DEFAULT 'linux' NOT NULL,
	"boot_mode" text DEFAULT 'legacy-bios' NOT NULL,
	"state" text NOT NULL,
	"is_public" boolean DEFAULT true NOT NULL,
	"root_path" text NOT NULL,
	"size_bytes" bigint DEFAULT 0 NOT NULL,
	"source" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"reservation_id" text NOT NULL,
	"launch_index" bigint NOT NULL,
	"image_id" text NOT NULL,
	"instance_type" text NOT NULL,
	"runtime" text NOT NULL,
	"key_name" text,
	"state" text NOT NULL,
	"state_transition_reason" text DEFAULT '' NOT NULL,
	"state_reason_code" text,
	"state_reason_message" text,
	"launch_time" bigint NOT NULL,
	"subnet_id" text NOT NULL,
	"vpc_id" text NOT NULL,
	"availability_zone" text NOT NULL,
	"private_ip" text NOT NULL,
	"public_ip" text,
	"mac_address" text NOT NULL,
	"network_interface_id" text NOT NULL,
	"security_group_ids" json NOT NULL,
	"client_token" text,
	"user_data" text,
	"root_volume_id" text NOT NULL,
	"root_volume_size_gib" bigint NOT NULL,
	"attributes" json NOT NULL,
	"terminated_at" bigint,
	"updated_at" bigint NOT NULL,
	"host_id" text
);
--> statement-breakpoint
CREATE TABLE "internet_gateways" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"vpc_id" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "key_pairs" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"key_type" text NOT NULL,
	"fingerprint" text NOT NULL,
	"public_key" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lambda_layer_versions" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"version" bigint NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"compatible_runtimes" json NOT NULL,
	"compatible_architectures" json NOT NULL,
	"license_info" text,
	"code_sha256" text NOT NULL,
	"digest" text NOT NULL,
	"code_size" bigint NOT NULL,
	"unzipped_size" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "lambda_layer_versions_account_id_name_version_pk" PRIMARY KEY("account_id","name","version")
);
--> statement-breakpoint
CREATE TABLE "lambda_layers" (
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"last_version" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "lambda_layers_account_id_name_pk" PRIMARY KEY("account_id","name")
);
--> statement-breakpoint
CREATE TABLE "launch_template_versions" (
	"template_id" text NOT NULL,
	"version" bigint NOT NULL,
	"description" text,
	"data" json NOT NULL,
	"created_by" text NOT NULL,
	"created_at" bigint NOT NULL,
	"client_token" text,
	CONSTRAINT "launch_template_versions_template_id_version_pk" PRIMARY KEY("template_id","version")
);
--> statement-breakpoint
CREATE TABLE "launch_templates" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"default_version" bigint NOT NULL,
	"latest_version" bigint NOT NULL,
	"created_by" text NOT NULL,
	"created_at" bigint NOT NULL,
	"client_token" text
);
--> statement-breakpoint
CREATE TABLE "nat_gateways" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"vpc_id" text NOT NULL,
	"subnet_id" text NOT NULL,
	"connectivity_type" text NOT NULL,
	"allocation_id" text,
	"private_ip" text NOT NULL,
	"network_interface_id" text NOT NULL,
	"state" text NOT NULL,
	"created_at" bigint NOT NULL,
	"deleted_at" bigint
);
--> statement-breakpoint
CREATE TABLE "reservations" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"client_token" text,
	"request_hash" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "route_table_associations" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"vpc_id" text NOT NULL,
	"route_table_id" text NOT NULL,
	"subnet_id" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "route_tables" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"vpc_id" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routes" (
	"route_table_id" text NOT NULL,
	"destination" text NOT NULL,
	"gateway_id" text,
	"nat_gateway_id" text,
	"instance_id" text,
	"network_interface_id" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "routes_route_table_id_destination_pk" PRIMARY KEY("route_table_id","destination")
);
--> statement-breakpoint
CREATE TABLE "security_group_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"group_id" text NOT NULL,
	"is_egress" boolean NOT NULL,
	"protocol" text NOT NULL,
	"from_port" bigint,
	"to_port" bigint,
	"cidr" text,
	"ref_group_id" text,
	"description" text DEFAULT '' NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "security_groups" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"vpc_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"name" text PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "snapshots" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"volume_id" text NOT NULL,
	"size_gib" bigint NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"state" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sts_sessions" (
	"access_key_id" text PRIMARY KEY NOT NULL,
	"secret_access_key" text NOT NULL,
	"token_hash" text NOT NULL,
	"account_id" text NOT NULL,
	"kind" text NOT NULL,
	"name" text,
	"session_name" text,
	"principal_id" text,
	"source" text,
	"session_policies" text,
	"tags" text,
	"expires_at" bigint NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subnets" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"vpc_id" text NOT NULL,
	"cidr" text NOT NULL,
	"availability_zone" text NOT NULL,
	"is_default" boolean NOT NULL,
	"created_at" bigint NOT NULL,
	"map_public_ip" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tags" (
	"account_id" text NOT NULL,
	"resource_id" text NOT NULL,
	"resource_type" text NOT NULL,
	"key" text NOT NULL,
	"value" text NOT NULL,
	CONSTRAINT "tags_resource_id_key_pk" PRIMARY KEY("resource_id","key")
);
--> statement-breakpoint
CREATE TABLE "volumes" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"availability_zone" text NOT NULL,
	"size_gib" bigint NOT NULL,
	"volume_type" text NOT NULL,
	"iops" bigint,
	"throughput" bigint,
	"snapshot_id" text,
	"state" text NOT NULL,
	"instance_id" text,
	"device" text,
	"attach_state" text,
	"attach_time" bigint,
	"delete_on_termination" boolean DEFAULT false NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vpcs" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"cidr" text NOT NULL,
	"is_default" boolean NOT NULL,
	"created_at" bigint NOT NULL,
	"dns_support" boolean DEFAULT true NOT NULL,
	"dns_hostnames" boolean DEFAULT false NOT NULL,
	"address_usage_metrics" boolean DEFAULT false NOT NULL,
	"vni" bigint
);
--> statement-breakpoint
ALTER TABLE "access_keys" ADD CONSTRAINT "access_keys_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_keys_user" ON "access_keys" USING btree ("account_id","user_name");--> statement-breakpoint
CREATE UNIQUE INDEX "addresses_public_ip" ON "addresses" USING btree ("public_ip");--> statement-breakpoint
CREATE INDEX "addresses_account" ON "addresses" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "addresses_instance" ON "addresses" USING btree ("instance_id");--> statement-breakpoint
CREATE INDEX "client_tokens_created" ON "client_tokens" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "function_aliases_url" ON "function_aliases" USING btree ("url_id");--> statement-breakpoint
CREATE UNIQUE INDEX "functions_url" ON "functions" USING btree ("url_id");--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_name" ON "hosts" USING btree ("name");--> statement-breakpoint
CREATE INDEX "iam_attachments_policy" ON "iam_attachments" USING btree ("account_id","policy_arn");--> statement-breakpoint
CREATE UNIQUE INDEX "iam_instance_profiles_id" ON "iam_instance_profiles" USING btree ("profile_id");--> statement-breakpoint
CREATE INDEX "iam_instance_profiles_role" ON "iam_instance_profiles" USING btree ("account_id","role_name");--> statement-breakpoint
CREATE UNIQUE INDEX "iam_policies_id" ON "iam_policies" USING btree ("policy_id");--> statement-breakpoint
CREATE INDEX "iam_profile_associations_instance" ON "iam_profile_associations" USING btree ("instance_id");--> statement-breakpoint
CREATE UNIQUE INDEX "iam_roles_id" ON "iam_roles" USING btree ("role_id");--> statement-breakpoint
CREATE UNIQUE INDEX "iam_users_id" ON "iam_users" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "images_owner_name" ON "images" USING btree ("owner_id","name");--> statement-breakpoint
CREATE INDEX "instances_account_state" ON "instances" USING btree ("account_id","state");--> statement-breakpoint
CREATE INDEX "instances_host_state" ON "instances" USING btree ("host_id","state");--> statement-breakpoint
CREATE INDEX "instances_reservation" ON "instances" USING btree ("reservation_id");--> statement-breakpoint
CREATE INDEX "instances_terminated" ON "instances" USING btree ("terminated_at");--> statement-breakpoint
CREATE INDEX "instances_account_launch" ON "instances" USING btree ("account_id","launch_time","reservation_id","launch_index");--> statement-breakpoint
CREATE INDEX "internet_gateways_vpc" ON "internet_gateways" USING btree ("vpc_id");--> statement-breakpoint
CREATE UNIQUE INDEX "key_pairs_account_name" ON "key_pairs" USING btree ("account_id","name");--> statement-breakpoint
CREATE INDEX "lambda_layer_versions_digest" ON "lambda_layer_versions" USING btree ("digest");--> statement-breakpoint
CREATE UNIQUE INDEX "launch_templates_name" ON "launch_templates" USING btree ("account_id","name");--> statement-breakpoint
CREATE INDEX "nat_gateways_account" ON "nat_gateways" USING btree ("account_id");--> statement-breakpoint
CREATE UNIQUE INDEX "reservations_token" ON "reservations" USING btree ("account_id","client_token");--> statement-breakpoint
CREATE UNIQUE INDEX "route_table_associations_subnet" ON "route_table_associations" USING btree ("subnet_id");--> statement-breakpoint
CREATE INDEX "route_table_associations_table" ON "route_table_associations" USING btree ("route_table_id");--> statement-breakpoint
CREATE INDEX "route_tables_vpc" ON "route_tables" USING btree ("vpc_id");--> statement-breakpoint
CREATE INDEX "security_group_rules_group" ON "security_group_rules" USING btree ("group_id");--> statement-breakpoint
CREATE INDEX "snapshots_account" ON "snapshots" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "sts_sessions_expiry" ON "sts_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "sts_sessions_source" ON "sts_sessions" USING btree ("account_id","source");--> statement-breakpoint
CREATE INDEX "tags_account_key" ON "tags" USING btree ("account_id","key");--> statement-breakpoint
CREATE INDEX "volumes_account" ON "volumes" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "volumes_instance" ON "volumes" USING btree ("instance_id");--> statement-breakpoint
CREATE UNIQUE INDEX "vpcs_vni" ON "vpcs" USING btree ("vni");