import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiForbiddenResponse, ApiNotFoundResponse, ApiResponse, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorDoc } from './dto/rest.dto.js';

/** The answers every REST route of PROTOCOL §5 may give besides its success. */
export function ApiChatErrors(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBearerAuth(),
    ApiBadRequestResponse({ type: ErrorDoc, description: 'A bad body, query or parameter; `message` names the field' }),
    ApiUnauthorizedResponse({ type: ErrorDoc, description: 'A missing, invalid or expired token' }),
    ApiForbiddenResponse({ type: ErrorDoc, description: 'Not a member, or not allowed' }),
    ApiNotFoundResponse({ type: ErrorDoc, description: 'Unknown room or message' }),
    ApiTooManyRequestsResponse({ type: ErrorDoc, description: 'Over REST_RATE_LIMIT_PER_MINUTE' }),
    ApiResponse({ status: 503, type: ErrorDoc, description: 'The shared store (Redis) is unreachable; try again' }),
  );
}
