import type * as z from "zod/mini";
import { GatewayErrorBody } from "../lib/errors";
import { PolicyDocument } from "../policy/document";
import { UsageReport } from "../reports/usage";
import * as admin from "../schemas/admin";
import * as events from "../schemas/events";
import * as gateway from "../schemas/gateway";
import * as v3 from "../v3/schemas";

/**
 * The schemas the document names (`#/components/schemas/<name>`), so client generators give them
 * these type names; any other schema is written out where it is used. Names follow upstream's
 * document for /api/v3. Naming one is optional: a schema missing here is still documented, inline.
 */
export const NAMED_SCHEMAS: Record<string, z.core.$ZodType> = {
  GatewayError: GatewayErrorBody,
  UpstreamError: v3.UpstreamError,
  ValidationError: v3.ValidationError,
  // /api/v3, as upstream names them.
  AccountView: v3.AccountView,
  PlanInfo: v3.PlanInfo,
  BrowserDownloadFile: v3.BrowserDownloadFile,
  BrowserDownloadListResponse: v3.BrowserDownloadListResponse,
  BrowserSessionItemView: v3.BrowserSessionItemView,
  BrowserSessionListResponse: v3.BrowserSessionListResponse,
  BrowserSessionStatus: v3.BrowserSessionStatus,
  BrowserSessionView: v3.BrowserSessionView,
  BuAgentSessionStatus: v3.BuAgentSessionStatus,
  BuModel: v3.BuModel,
  CustomProxy: v3.CustomProxy,
  FileInfo: v3.FileInfo,
  FileListResponse: v3.FileListResponse,
  FileUploadResponse: v3.FileUploadResponse,
  FileUploadResponseItem: v3.FileUploadResponseItem,
  MessageListResponse: v3.MessageListResponse,
  MessageResponse: v3.MessageResponse,
  ProfileListResponse: v3.ProfileListResponse,
  ProfileView: v3.ProfileView,
  ProxyCountryCode: v3.ProxyCountryCode,
  SessionListResponse: v3.SessionListResponse,
  SessionResponse: v3.SessionResponse,
  StopStrategy: v3.StopStrategy,
  ThinkingLevel: v3.ThinkingLevel,
  WorkspaceListResponse: v3.WorkspaceListResponse,
  WorkspaceSizeResponse: v3.WorkspaceSizeResponse,
  WorkspaceView: v3.WorkspaceView,
  // The gateway's own.
  AlertDeliveries: admin.AlertDeliveries,
  AlertTarget: admin.AlertTarget,
  Budget: gateway.Budget,
  BudgetAlertEvent: events.BudgetAlertEvent,
  BudgetScope: gateway.BudgetScope,
  EffectivePolicy: admin.EffectivePolicy,
  Hook: admin.Hook,
  HookDeliveries: admin.HookDeliveries,
  IssuedKey: admin.IssuedKey,
  Key: admin.Key,
  Me: gateway.Me,
  Org: admin.Org,
  PolicyDocument,
  SessionFinishedEvent: events.SessionFinishedEvent,
  Tenant: admin.Tenant,
  UsageReport,
};
